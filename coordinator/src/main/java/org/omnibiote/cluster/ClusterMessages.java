package org.omnibiote.cluster;

import com.esotericsoftware.kryo.Kryo;
import com.esotericsoftware.kryo.Serializer;
import com.esotericsoftware.kryo.io.Input;
import com.esotericsoftware.kryo.io.Output;
import com.esotericsoftware.kryo.serializers.RecordSerializer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.omnibiote.coordinator.Coordinator;
import org.omnibiote.coordinator.WorkerProtocol;
import org.omnibiote.settings.LossNorm;
import org.omnibiote.settings.Precision;
import org.omnibiote.settings.TrainSettings;

/**
 * The registry of remote message classes with fixed Kryo ids. Ids are part of the wire format:
 * never reuse or renumber one; append new classes with new ids.
 */
public final class ClusterMessages {

  /** Records that travel between nodes, with their ids. */
  static final List<Entry> RECORDS =
      List.of(
          new Entry(100, WorkerProtocol.Describe.class),
          new Entry(101, WorkerProtocol.Description.class),
          // 102, 103: Status and World, sent by no one, removed; never reuse their ids.
          new Entry(104, WorkerProtocol.JoinWorld.class),
          new Entry(105, WorkerProtocol.RunStep.class),
          new Entry(106, WorkerProtocol.Save.class),
          new Entry(107, WorkerProtocol.LeaveWorld.class),
          new Entry(108, WorkerProtocol.Finish.class),
          new Entry(109, WorkerProtocol.Evicted.class),
          new Entry(110, Coordinator.Joined.class),
          new Entry(111, Coordinator.StepDone.class),
          new Entry(112, Coordinator.Failed.class),
          new Entry(113, Coordinator.Saved.class),
          new Entry(114, WorkerProtocol.KeepState.class),
          new Entry(115, WorkerProtocol.InitFromSeed.class),
          new Entry(116, WorkerProtocol.LoadCheckpoint.class),
          new Entry(117, TrainSettings.class),
          new Entry(118, WorkerProtocol.Watch.class),
          new Entry(119, Coordinator.Heartbeat.class),
          new Entry(120, Coordinator.Admin.class),
          new Entry(121, Coordinator.AdminReply.class),
          new Entry(122, Coordinator.Leave.class));

  /** Enums inside messages, with their ids. */
  static final List<EnumEntry> ENUMS =
      List.of(
          new EnumEntry(30, Coordinator.Operation.class),
          new EnumEntry(31, LossNorm.class),
          new EnumEntry(32, Precision.class));

  /** Paths (in TrainSettings) travel as their string. */
  static final int PATH_ID = 22;

  /** The typed ActorRef (any implementation) is written as its path string. */
  static final int ACTOR_REF_ID = 20;

  static final int ARRAY_LIST_ID = 21;

  record Entry(int id, Class<? extends Record> type) {}

  record EnumEntry(int id, Class<? extends Enum<?>> type) {}

  private ClusterMessages() {}

  /** A path as its string; read back with Path.of on the receiving node. */
  private static final class PathSerializer extends Serializer<Path> {
    @Override
    public void write(Kryo kryo, Output output, Path path) {
      output.writeString(path.toString());
    }

    @Override
    public Path read(Kryo kryo, Input input, Class<? extends Path> type) {
      return Path.of(input.readString());
    }
  }

  /** Every registered message class (for tests and for the error message). */
  public static List<Class<? extends Record>> classes() {
    return RECORDS.stream().<Class<? extends Record>>map(Entry::type).toList();
  }

  @SuppressWarnings({"unchecked", "rawtypes"})
  static void register(Kryo kryo, ActorRefKryoSerializer refs) {
    kryo.register(org.apache.pekko.actor.typed.ActorRef.class, refs, ACTOR_REF_ID);
    kryo.register(ArrayList.class, ARRAY_LIST_ID);
    // The platform's Path class (sun.nio.fs.UnixPath here): registration is by concrete class.
    kryo.register(Path.of("").getClass(), new PathSerializer(), PATH_ID);
    for (Entry e : RECORDS) {
      kryo.register(e.type(), new RecordSerializer(e.type()), e.id());
    }
    for (EnumEntry e : ENUMS) {
      kryo.register(e.type(), e.id());
    }
  }
}
