package org.omnibiote.cluster;

import com.esotericsoftware.kryo.Kryo;
import com.esotericsoftware.kryo.serializers.RecordSerializer;
import java.util.ArrayList;
import java.util.List;

/**
 * The registry of remote message classes with fixed Kryo ids. Ids are part of the wire format:
 * never reuse or renumber one; append new classes with new ids.
 */
public final class ClusterMessages {

  /** Records that travel between nodes, with their ids. */
  static final List<Entry> RECORDS = List.of(
      new Entry(100, Worker.Describe.class),
      new Entry(101, Worker.Description.class),
      new Entry(102, Coordinator.Status.class),
      new Entry(103, Coordinator.World.class),
      new Entry(104, Worker.JoinWorld.class),
      new Entry(105, Worker.RunStep.class),
      new Entry(106, Worker.Save.class),
      new Entry(107, Worker.LeaveWorld.class),
      new Entry(108, Worker.Finish.class),
      new Entry(109, Worker.Evicted.class),
      new Entry(110, Coordinator.Joined.class),
      new Entry(111, Coordinator.StepDone.class),
      new Entry(112, Coordinator.Failed.class),
      new Entry(113, Coordinator.Saved.class));

  /** The typed ActorRef (any implementation) is written as its path string. */
  static final int ACTOR_REF_ID = 20;
  static final int ARRAY_LIST_ID = 21;

  record Entry(int id, Class<? extends Record> type) {}

  private ClusterMessages() {}

  /** Every registered message class (for tests and for the error message). */
  public static List<Class<? extends Record>> classes() {
    return RECORDS.stream().<Class<? extends Record>>map(Entry::type).toList();
  }

  @SuppressWarnings({"unchecked", "rawtypes"})
  static void register(Kryo kryo, ActorRefKryoSerializer refs) {
    kryo.register(org.apache.pekko.actor.typed.ActorRef.class, refs, ACTOR_REF_ID);
    kryo.register(ArrayList.class, ARRAY_LIST_ID);
    for (Entry e : RECORDS) {
      kryo.register(e.type(), new RecordSerializer(e.type()), e.id());
    }
  }
}
