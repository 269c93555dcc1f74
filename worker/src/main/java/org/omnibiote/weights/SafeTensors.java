package org.omnibiote.weights;

import static org.bytedeco.pytorch.global.torch.ScalarType.Float;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.channels.WritableByteChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;
import org.omnibiote.UserError;
import org.omnibiote.io.AtomicOutput;

/**
 * The safetensors format (Hugging Face), float32 only: an 8-byte little-endian header length, a
 * JSON header ({@code name -> {dtype, shape, data_offsets}} plus string-to-string {@code
 * __metadata__}), then the raw little-endian data of every tensor, back to back.
 */
public final class SafeTensors {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final String METADATA = "__metadata__";

  /** A header larger than this is a corrupt length field, not a real header. */
  private static final long MAX_HEADER = 100L << 20;

  /** Tensors by name in file order, and the metadata. Tensors are CPU float32. */
  public record Contents(Map<String, Tensor> tensors, Map<String, String> metadata) {}

  private SafeTensors() {}

  /** Writes the file atomically: it appears complete under {@code path} or not at all. */
  public static void write(Path path, Map<String, Tensor> tensors, Map<String, String> metadata)
      throws IOException {
    if (ByteOrder.nativeOrder() != ByteOrder.LITTLE_ENDIAN) {
      throw new IllegalStateException("safetensors writing needs a little-endian platform");
    }
    try (PointerScope scope = new PointerScope();
        AtomicOutput out = new AtomicOutput(path)) {
      List<Tensor> data = new ArrayList<>();
      ObjectNode header = JSON.createObjectNode();
      ObjectNode meta = header.putObject(METADATA);
      metadata.forEach(meta::put);
      long offset = 0;
      for (Map.Entry<String, Tensor> e : tensors.entrySet()) {
        Tensor t = e.getValue().detach().cpu().to(Float).contiguous();
        data.add(t);
        ObjectNode entry = header.putObject(e.getKey());
        entry.put("dtype", "F32");
        ArrayNode shape = entry.putArray("shape");
        for (long s : t.shape()) {
          shape.add(s);
        }
        entry.putArray("data_offsets").add(offset).add(offset + t.nbytes());
        offset += t.nbytes();
      }
      byte[] json = JSON.writeValueAsBytes(header);
      // Pad with spaces so the data starts 8-byte aligned, as the reference writer does.
      int padded = (json.length + 7) / 8 * 8;
      ByteBuffer head = ByteBuffer.allocate(8 + padded).order(ByteOrder.LITTLE_ENDIAN);
      head.putLong(padded).put(json);
      while (head.hasRemaining()) {
        head.put((byte) ' ');
      }
      WritableByteChannel channel = Channels.newChannel(out.stream());
      writeFully(channel, head.flip());
      for (Tensor t : data) {
        writeFully(channel, bytesOf(t));
      }
      out.commit();
    }
  }

  /** Reads a whole file; any inconsistency (truncation, bad header) is a {@link UserError}. */
  public static Contents read(Path path) throws IOException {
    try (FileChannel channel = FileChannel.open(path, StandardOpenOption.READ)) {
      long size = channel.size();
      if (size < 8) {
        throw corrupt(path, "shorter than the 8-byte header length (" + size + " bytes)");
      }
      ByteBuffer lengthBytes = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
      readFully(channel, lengthBytes, 0, path);
      long headerLength = lengthBytes.flip().getLong();
      if (headerLength <= 0 || headerLength > MAX_HEADER || headerLength > size - 8) {
        throw corrupt(
            path, "header length " + headerLength + " does not fit a file of " + size + " bytes");
      }
      ByteBuffer headerBytes = ByteBuffer.allocate((int) headerLength);
      readFully(channel, headerBytes, 8, path);
      JsonNode header;
      try {
        header = JSON.readTree(new String(headerBytes.array(), StandardCharsets.UTF_8));
      } catch (JsonProcessingException e) {
        throw corrupt(path, "header is not valid JSON: " + e.getOriginalMessage());
      }
      if (header == null || !header.isObject()) {
        throw corrupt(path, "header is not a JSON object");
      }
      long dataStart = 8 + headerLength;
      Map<String, String> metadata = new LinkedHashMap<>();
      List<Entry> entries = new ArrayList<>();
      for (Iterator<Map.Entry<String, JsonNode>> it = header.fields(); it.hasNext(); ) {
        Map.Entry<String, JsonNode> field = it.next();
        if (field.getKey().equals(METADATA)) {
          field
              .getValue()
              .fields()
              .forEachRemaining(m -> metadata.put(m.getKey(), m.getValue().asText()));
        } else {
          entries.add(Entry.parse(field.getKey(), field.getValue(), path));
        }
      }
      checkLayout(entries, size - dataStart, path);
      Map<String, Tensor> tensors = new LinkedHashMap<>();
      for (Entry e : entries) {
        // cpu-only: read from the file into host memory; loading copies it to the parameters.
        Tensor t = torch.zeros(e.shape, new TensorOptions(Float));
        readFully(channel, bytesOf(t), dataStart + e.begin, path);
        tensors.put(e.name, t);
      }
      return new Contents(tensors, metadata);
    }
  }

  /** The data regions must tile the data section exactly: no gap, no overlap, no tail. */
  private static void checkLayout(List<Entry> entries, long dataLength, Path path) {
    List<Entry> byOffset = new ArrayList<>(entries);
    byOffset.sort(Comparator.comparingLong(e -> e.begin));
    long expected = 0;
    for (Entry e : byOffset) {
      if (e.begin != expected) {
        throw corrupt(
            path, "tensor " + e.name + " starts at " + e.begin + ", expected " + expected);
      }
      expected = e.end;
    }
    if (expected != dataLength) {
      throw corrupt(
          path,
          "tensors cover "
              + expected
              + " data bytes but the file holds "
              + dataLength
              + (expected > dataLength ? " (truncated?)" : ""));
    }
  }

  private record Entry(String name, long[] shape, long begin, long end) {
    static Entry parse(String name, JsonNode node, Path path) {
      String dtype = node.path("dtype").asText();
      if (!dtype.equals("F32")) {
        throw corrupt(path, "tensor " + name + " has dtype '" + dtype + "'; only F32 is supported");
      }
      JsonNode shapeNode = node.path("shape");
      JsonNode offsets = node.path("data_offsets");
      if (!shapeNode.isArray() || !offsets.isArray() || offsets.size() != 2) {
        throw corrupt(path, "tensor " + name + " lacks a shape or a data_offsets pair");
      }
      long[] shape = new long[shapeNode.size()];
      long elements = 1;
      for (int i = 0; i < shape.length; i++) {
        shape[i] = shapeNode.get(i).asLong(-1);
        if (shape[i] < 0) {
          throw corrupt(path, "tensor " + name + " has a negative dimension");
        }
        elements = Math.multiplyExact(elements, shape[i]);
      }
      long begin = offsets.get(0).asLong(-1);
      long end = offsets.get(1).asLong(-1);
      if (begin < 0 || end - begin != elements * 4) {
        throw corrupt(
            path,
            "tensor "
                + name
                + ": data_offsets ["
                + begin
                + ", "
                + end
                + "] do not hold "
                + elements
                + " float32 values");
      }
      return new Entry(name, shape, begin, end);
    }
  }

  /** The tensor's storage as a byte buffer (contiguous CPU tensors only). */
  private static ByteBuffer bytesOf(Tensor t) {
    return new BytePointer(t.data_ptr()).capacity(t.nbytes()).asByteBuffer();
  }

  private static void writeFully(WritableByteChannel channel, ByteBuffer buf) throws IOException {
    while (buf.hasRemaining()) {
      channel.write(buf);
    }
  }

  private static void readFully(FileChannel channel, ByteBuffer buf, long position, Path path)
      throws IOException {
    while (buf.hasRemaining()) {
      int n = channel.read(buf, position);
      if (n < 0) {
        throw corrupt(path, "ends early at byte " + position);
      }
      position += n;
    }
  }

  private static UserError corrupt(Path path, String problem) {
    return new UserError("safetensors file " + path + ": " + problem);
  }
}
