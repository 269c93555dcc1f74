package org.omnibiote.records;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.BufferedReader;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * Runs Debian's Biopython (only importable under /usr/bin/python3) once over many files and
 * returns, per file, the documents the original preprocessing would write.
 */
public final class Biopython {
  public static final Path PYTHON = Path.of("/usr/bin/python3");
  private static final String INSTALL =
      "Biopython 1.80 under /usr/bin/python3 is required for this parity test:"
          + " apt-get install -y python3-biopython";

  private Biopython() {}

  /** One file's outcome under Biopython. */
  public record Outcome(String file, boolean ok, String error, List<JsonNode> records) {
    public List<String> documents() {
      List<String> docs = new ArrayList<>();
      for (JsonNode r : records) {
        if (r.has("doc")) {
          docs.add(r.get("doc").asText());
        }
      }
      return docs;
    }

    public List<String> documentIds() {
      List<String> ids = new ArrayList<>();
      for (JsonNode r : records) {
        if (r.has("doc")) {
          ids.add(r.get("id").asText());
        }
      }
      return ids;
    }

    public long count(String field) {
      return records.stream().filter(r -> r.has(field)).count();
    }
  }

  /** Parses every file with {@code SeqIO.parse(path, format)} in one Python process. */
  public static Map<Path, Outcome> parse(String format, List<Path> files) throws Exception {
    if (!Files.isExecutable(PYTHON)) {
      fail(INSTALL + " (no " + PYTHON + ")");
    }
    Path script = Files.createTempFile("biopython_documents", ".py");
    try (InputStream in = Biopython.class.getResourceAsStream("/parity/biopython_documents.py")) {
      Files.write(script, in.readAllBytes());
    }
    try {
      List<String> cmd = new ArrayList<>(List.of(PYTHON.toString(), script.toString(), format));
      files.forEach(f -> cmd.add(f.toString()));
      ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(false);
      pb.environment().put("PYTHONUTF8", "1");
      pb.redirectError(ProcessBuilder.Redirect.INHERIT);
      Process p = pb.start();
      ObjectMapper json = new ObjectMapper();
      Map<Path, Outcome> out = new LinkedHashMap<>();
      try (BufferedReader r =
          new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
        String line;
        while ((line = r.readLine()) != null) {
          JsonNode n = json.readTree(line);
          List<JsonNode> records = new ArrayList<>();
          n.get("records").forEach(records::add);
          String file = n.get("file").asText();
          out.put(
              Path.of(file),
              new Outcome(
                  file,
                  n.get("ok").asBoolean(),
                  n.get("error").isNull() ? null : n.get("error").asText(),
                  records));
        }
      }
      if (!p.waitFor(5, TimeUnit.MINUTES)) {
        p.destroyForcibly();
        fail("Biopython did not finish within 5 minutes");
      }
      if (p.exitValue() != 0) {
        fail(INSTALL + " (the script exited with " + p.exitValue() + "; see stderr above)");
      }
      assertEquals(files.size(), out.size(), "Biopython reported on every file");
      return out;
    } finally {
      Files.deleteIfExists(script);
    }
  }
}
