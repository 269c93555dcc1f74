package org.omnibiote.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * Every tensor factory call in worker/src/main takes its device from a tensor ({@code x.options()},
 * {@code x.device()}) or a device, or says why it is on the CPU by design: a comment {@code //
 * cpu-only: <reason>} on a line of its statement or right above it. A factory without a device
 * makes a CPU tensor whatever device the model is on, which fails as soon as it meets a CUDA tensor
 * (the class of bug {@link MetaDeviceTest} catches where libtorch can run the code on meta; this
 * check also covers the code it cannot run there, and code added later).
 *
 * <p>What counts as a factory: {@code torch.zeros/ones/empty/full/arange/linspace/eye/rand/randn/
 * randint/randperm/tensor/scalar_tensor/from_blob/...(}, {@code Tensor.create(} (Java arrays,
 * always on the CPU) and {@code new TensorOptions(} (a dtype alone means the CPU), also when
 * google-java-format splits {@code torch} and {@code .zeros(} over two lines. The {@code *_like}
 * factories take the device of their tensor, so options inside their arguments are fine. A factory
 * may take a {@code TensorOptions} variable of the same file whose initialiser names a device or
 * whose declaration carries the marker. A literal CPU device ({@code new Device("cpu")}, {@code
 * DeviceType.CPU}) needs the marker too. Comments and string literals are ignored. A static import
 * of a factory is refused (it would hide the call from this check).
 */
class DeviceCleanSourceTest {
  private static final Path MAIN = Path.of("src/main/java");

  @Test
  void everyTensorFactoryInTheWorkerTakesADevice() throws IOException {
    assertTrue(Files.isDirectory(MAIN), "run from the worker module: no " + MAIN.toAbsolutePath());
    List<String> problems = new ArrayList<>();
    int files = 0;
    try (Stream<Path> walk = Files.walk(MAIN)) {
      for (Path file : walk.filter(p -> p.toString().endsWith(".java")).sorted().toList()) {
        files++;
        for (Finding f : scan(Files.readString(file))) {
          problems.add("worker/" + file + ":" + f.line() + ": " + f);
        }
      }
    }
    assertTrue(files > 10, "found only " + files + " source files under " + MAIN);
    assertTrue(
        problems.isEmpty(),
        problems.size()
            + " tensor factory call(s) without a device: take the options from a tensor"
            + " (like.options()) or a device, or mark a call that is on the CPU by design with"
            + " `// cpu-only: <reason>` on its statement:\n  "
            + String.join("\n  ", problems));
  }

  // The scanner's own cases, on snippets.

  @Test
  void flagsFactoriesWithoutADevice() {
    assertFlagged("Tensor m = torch.zeros(new long[] {4}, new TensorOptions(Long));", 1);
    assertFlagged(
        "Tensor p = torch.arange(new Scalar(t), new TensorOptions(Long)).unsqueeze(0);", 1);
    assertFlagged("weight = register_parameter(\"weight\", torch.ones(n));", 1);
    assertFlagged("Tensor ids = Tensor.create(flat, b, t);", 1);
    assertFlagged("TensorOptions f32 = new TensorOptions(Float);", 1);
    assertFlagged("Tensor r = torch.rand(ids.shape(), new TensorOptions(Float));", 1);
    assertFlagged("Tensor e = torch.eye(t, new TensorOptions(new Device(\"cpu\")));", 1);
    assertFlagged("import static org.bytedeco.pytorch.global.torch.zeros;", 1);
    // google-java-format's split of a chained call; the finding names the line of "torch".
    List<Finding> split =
        scan(
            "long n = 4;\nTensor bits =\n    torch\n        .zeros(new long[] {n},"
                + " new TensorOptions(Long))\n        .random_(0, new LongOptional());");
    assertEquals(1, split.size(), split.toString());
    assertEquals(3, split.get(0).line());
  }

  @Test
  void acceptsOptionsFromATensorOrADevice() {
    assertFlagged("Tensor m = torch.zeros(new long[] {4}, like.options().dtype(LONG));", 0);
    assertFlagged("Tensor p = torch.arange(new Scalar(t), ids.options());", 0);
    assertFlagged("Tensor e = torch.eye(t, new TensorOptions(ids.device()).dtype(BOOL));", 0);
    assertFlagged("Tensor z = torch.zeros(shape, new TensorOptions(device));", 0);
    assertFlagged(
        "Tensor m = torch.zeros_like(p, new TensorOptions(Float), new MemoryFormatOptional());", 0);
    assertFlagged("TensorOptions o = x.options();\nTensor a = torch.randn(new long[] {n}, o);", 0);
    assertFlagged("// torch.zeros(3) in a comment\nString s = \"torch.ones(3)\";", 0);
  }

  @Test
  void acceptsAJustifiedMarkerOnTheStatementOrAboveIt() {
    assertFlagged("Tensor ids = Tensor.create(flat, b, t); // cpu-only: host data, moved below", 0);
    assertFlagged(
        "// cpu-only: host data, moved below\nTensor ids = Tensor.create(flat, b, t);", 0);
    assertFlagged(
        "Tensor ids =\n    Tensor.create(\n        flat, b, t); // cpu-only: host data, moved below",
        0);
    assertFlagged(
        "TensorOptions o = new TensorOptions(dtype); // cpu-only: measures the CPU\n"
            + "Tensor a = torch.randn(new long[] {n, n}, o);\n"
            + "Tensor b = torch.zeros(new long[] {n, n}, o);",
        0);
    assertFlagged("Tensor ids = Tensor.create(flat, b, t); // cpu-only:", 1);
    assertFlagged(
        "// cpu-only: host data, moved below\n\nTensor ids = Tensor.create(flat, b, t);", 1);
    assertFlagged(
        "TensorOptions o = new TensorOptions(dtype);\nTensor a = torch.randn(new long[] {n}, o);",
        2);
  }

  private static void assertFlagged(String source, int count) {
    List<Finding> found = scan(source);
    assertEquals(count, found.size(), source + "\n-> " + found);
  }

  /** A factory call without a device, at a 1-based line. */
  record Finding(int line, String call) {
    @Override
    public String toString() {
      return call;
    }
  }

  private static final String FACTORY_NAMES =
      "zeros|ones|empty|empty_strided|full|arange|range|linspace|logspace|eye|rand|randn|randint"
          + "|randperm|tensor|scalar_tensor|from_blob|tril_indices|triu_indices";
  private static final Pattern FACTORY =
      Pattern.compile(
          "\\btorch\\s*\\.\\s*(?:"
              + FACTORY_NAMES
              + ")\\s*\\(|\\bTensor\\s*\\.\\s*create\\s*\\(|\\bnew\\s+TensorOptions\\s*\\(");
  private static final Pattern LIKE = Pattern.compile("\\b\\w+_like\\s*\\(");
  private static final Pattern STATIC_IMPORT =
      Pattern.compile(
          "\\bimport\\s+static\\s+org\\s*\\.\\s*bytedeco\\s*\\.\\s*pytorch\\s*\\.\\s*global\\s*\\."
              + "\\s*torch\\s*\\.\\s*(?:\\*|"
              + FACTORY_NAMES
              + ")\\s*;");
  private static final Pattern OPTIONS_VARIABLE =
      Pattern.compile("\\bTensorOptions\\s+(\\w+)\\s*=");
  private static final Pattern DEVICE =
      Pattern.compile("\\.\\s*options\\s*\\(\\s*\\)|\\w*[Dd]evice\\w*");
  private static final Pattern CPU_DEVICE =
      Pattern.compile("new\\s+Device\\s*\\(\\s*\"cpu|DeviceType\\s*\\.\\s*CPU\\b|\\bkCPU\\b");
  private static final Pattern MARKER = Pattern.compile("//\\s*cpu-only:\\s*\\S.{7,}");
  private static final Pattern IDENTIFIER = Pattern.compile("\\b[A-Za-z_]\\w*\\b");

  /** The factory calls of one Java source file that take no device and carry no marker. */
  static List<Finding> scan(String source) {
    String code = blankCommentsAndStrings(source);
    String[] lines = source.split("\n", -1);
    List<Finding> out = new ArrayList<>();

    Matcher imports = STATIC_IMPORT.matcher(code);
    while (imports.find()) {
      out.add(new Finding(lineOf(code, imports.start()), "static import of a tensor factory"));
    }

    // Arguments of *_like calls: options there only change what the tensor does not decide.
    List<int[]> likeSpans = new ArrayList<>();
    Matcher like = LIKE.matcher(code);
    while (like.find()) {
      likeSpans.add(new int[] {like.end() - 1, closing(code, like.end() - 1)});
    }

    // TensorOptions variables that carry a device (or a marker), by name.
    Set<String> goodOptions = new HashSet<>();
    Matcher variable = OPTIONS_VARIABLE.matcher(code);
    while (variable.find()) {
      int end = statementEnd(code, variable.end());
      if (namesADevice(code, source, variable.end(), end, Set.of())
          || marked(lines, code, variable.start(), end)) {
        goodOptions.add(variable.group(1));
      }
    }

    List<int[]> factorySpans = new ArrayList<>();
    Matcher factory = FACTORY.matcher(code);
    while (factory.find()) {
      int open = factory.end() - 1;
      int close = closing(code, open);
      boolean options = factory.group().startsWith("new");
      if (options && (inside(likeSpans, open) || inside(factorySpans, open))) {
        continue; // judged with the call it is an argument of
      }
      if (!options) {
        factorySpans.add(new int[] {open, close});
      }
      int end = options ? chainEnd(code, close) : close;
      if (namesADevice(code, source, open, end, goodOptions)
          || marked(lines, code, factory.start(), statementEnd(code, end))) {
        continue;
      }
      out.add(
          new Finding(
              lineOf(code, factory.start()),
              factory.group().replaceAll("\\s+", "") + "...) without a device"));
    }
    out.sort((a, b) -> Integer.compare(a.line(), b.line()));
    return out;
  }

  /** Whether code[from, to) takes a device: x.options(), a device, or a good options variable. */
  private static boolean namesADevice(
      String code, String source, int from, int to, Set<String> goodOptions) {
    if (CPU_DEVICE.matcher(source.substring(from, to)).find()) {
      return false; // on the CPU by choice: say why with the marker
    }
    String span = code.substring(from, to);
    if (DEVICE.matcher(span).find()) {
      return true;
    }
    Matcher id = IDENTIFIER.matcher(span);
    while (id.find()) {
      if (goodOptions.contains(id.group())) {
        return true;
      }
    }
    return false;
  }

  /**
   * Whether the statement around [at, end) carries the marker: on one of its lines (from the
   * statement's first line) or on the comment lines right above it.
   */
  private static boolean marked(String[] lines, String code, int at, int end) {
    int start = at;
    while (start > 0 && ";{}".indexOf(code.charAt(start - 1)) < 0) {
      start--;
    }
    while (start < at && Character.isWhitespace(code.charAt(start))) {
      start++;
    }
    int first = lineOf(code, start) - 1;
    int last = lineOf(code, Math.min(end, code.length() - 1)) - 1;
    for (int i = first; i <= last && i < lines.length; i++) {
      if (MARKER.matcher(lines[i]).find()) {
        return true;
      }
    }
    for (int i = first - 1; i >= 0 && lines[i].trim().startsWith("//"); i--) {
      if (MARKER.matcher(lines[i]).find()) {
        return true;
      }
    }
    return false;
  }

  private static boolean inside(List<int[]> spans, int at) {
    return spans.stream().anyMatch(s -> s[0] < at && at < s[1]);
  }

  /** The index of the parenthesis closing the one at {@code open} (or the end of the code). */
  private static int closing(String code, int open) {
    int depth = 0;
    for (int i = open; i < code.length(); i++) {
      char c = code.charAt(i);
      if (c == '(') {
        depth++;
      } else if (c == ')' && --depth == 0) {
        return i;
      }
    }
    return code.length() - 1;
  }

  /** The end of {@code .dtype(...).device(...)} calls chained after the call closing at close. */
  private static int chainEnd(String code, int close) {
    Pattern call = Pattern.compile("\\s*\\.\\s*\\w+\\s*\\(");
    int end = close;
    Matcher m = call.matcher(code);
    while (m.region(end + 1, code.length()).lookingAt()) {
      end = closing(code, m.end() - 1);
    }
    return end;
  }

  /** The index of the semicolon ending the statement at {@code from} (or the end of the code). */
  private static int statementEnd(String code, int from) {
    int semicolon = code.indexOf(';', from);
    return semicolon < 0 ? code.length() - 1 : semicolon;
  }

  private static int lineOf(String code, int at) {
    int line = 1;
    for (int i = 0; i < at; i++) {
      if (code.charAt(i) == '\n') {
        line++;
      }
    }
    return line;
  }

  /**
   * The source with comments and the contents of string and char literals (text blocks included)
   * replaced by spaces, newlines kept, so offsets and line numbers stay those of the source.
   */
  static String blankCommentsAndStrings(String s) {
    StringBuilder out = new StringBuilder(s);
    int i = 0;
    while (i < s.length()) {
      char c = s.charAt(i);
      int end;
      if (s.startsWith("//", i)) {
        end = s.indexOf('\n', i);
        end = end < 0 ? s.length() : end;
      } else if (s.startsWith("/*", i)) {
        end = s.indexOf("*/", i + 2);
        end = end < 0 ? s.length() : end + 2;
      } else if (s.startsWith("\"\"\"", i)) {
        end = s.indexOf("\"\"\"", i + 3);
        end = end < 0 ? s.length() : end + 3;
      } else if (c == '"' || c == '\'') {
        end = i + 1;
        while (end < s.length() && s.charAt(end) != c && s.charAt(end) != '\n') {
          end += s.charAt(end) == '\\' ? 2 : 1;
        }
        end = Math.min(end + 1, s.length());
      } else {
        i++;
        continue;
      }
      for (int j = i; j < end; j++) {
        if (out.charAt(j) != '\n') {
          out.setCharAt(j, ' ');
        }
      }
      i = end;
    }
    return out.toString();
  }
}
