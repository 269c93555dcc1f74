package org.omnibiote.cluster;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.ConfigFactory;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.javadsl.Adapter;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.serialization.Serialization;
import org.apache.pekko.serialization.SerializationExtension;
import org.apache.pekko.serialization.Serializer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.omnibiote.coordinator.ClusterMessage;
import org.omnibiote.coordinator.Coordinator;
import org.omnibiote.coordinator.WorkerProtocol;
import org.omnibiote.settings.TrainSettings;

class KryoSerializerTest {

  /** A message someone forgot to list in ClusterMessages. */
  record Unlisted(String text) implements ClusterMessage {}

  private static ActorSystem<Void> system;
  private static Serialization serialization;
  private static ActorRef<WorkerProtocol.Description> descriptions;
  private static ActorRef<WorkerProtocol.Command> workers;
  private static ActorRef<Coordinator.Command> coordinators;

  @BeforeAll
  static void start() {
    // The cluster config's serializer bindings, on a local (no network) provider.
    var config =
        ConfigFactory.parseMap(Map.of("pekko.actor.provider", "local"))
            .withFallback(ConfigFactory.load().getConfig("omnibiote.cluster.system"))
            .withFallback(ConfigFactory.load());
    var spawned = new java.util.concurrent.CompletableFuture<Void>();
    system =
        ActorSystem.create(
            Behaviors.<Void>setup(
                ctx -> {
                  descriptions =
                      ctx.spawn(Behaviors.<WorkerProtocol.Description>empty(), "descriptions");
                  workers = ctx.spawn(Behaviors.<WorkerProtocol.Command>empty(), "workers");
                  coordinators = ctx.spawn(Behaviors.<Coordinator.Command>empty(), "coordinators");
                  spawned.complete(null);
                  return Behaviors.empty();
                }),
            "kryo-test",
            config);
    spawned.join();
    serialization = SerializationExtension.get(Adapter.toClassic(system));
  }

  @AfterAll
  static void stop() {
    system.terminate();
  }

  /** One example of every registered message, with refs to real actors. */
  private static List<ClusterMessage> examples() {
    WorkerProtocol.Description d =
        new WorkerProtocol.Description(
            "cuda:1", "10.0.0.7", 4242L, "{\"n_layer\":\"2\"}", "10.0.0.7", 40123);
    return List.of(
        new WorkerProtocol.Describe(descriptions),
        d,
        new WorkerProtocol.JoinWorld(
            3,
            "5f0c-gen-3",
            1,
            2,
            "10.0.0.1",
            29500,
            30_000,
            TrainSettings.from(ConfigFactory.load()),
            new WorkerProtocol.LoadCheckpoint("/runs/x/omnibiota_1000.checkpoint.json"),
            "abc",
            coordinators),
        new WorkerProtocol.KeepState(),
        new WorkerProtocol.InitFromSeed(),
        new WorkerProtocol.LoadCheckpoint("/runs/x/omnibiota.checkpoint.json"),
        new WorkerProtocol.RunStep(3, 17, 4096, 2, 5, 0.5, true, "1@0,2@4096", coordinators),
        new WorkerProtocol.Save(3, 17, "omnibiota_1000", 1000, 64, coordinators),
        new WorkerProtocol.LeaveWorld(3),
        new WorkerProtocol.Finish("trained 18 steps"),
        new WorkerProtocol.Evicted("n_layer 4 (worker) vs 2 (run)", true, false),
        new Coordinator.Joined(3, 1, workers, 2.1e11),
        new Coordinator.StepDone(
            3,
            17,
            workers,
            2.5,
            100,
            4000,
            200,
            0.25,
            0.01,
            0.04,
            0.83,
            812.5,
            30_517.5,
            32_768.0,
            "{\"genbank\":2.4}"),
        new Coordinator.Failed(
            3, 17, Coordinator.Operation.STEP, workers, "Connection closed by peer", false),
        new Coordinator.Saved(3, 17, "/runs/x/omnibiota_1000.checkpoint.json"),
        new WorkerProtocol.Watch(coordinators),
        new Coordinator.Heartbeat(
            workers, 812.5, 0, 0, "12:00:01.000 INFO Worker - hi\n12:00:01.5 WARN Worker - there"),
        new Coordinator.Admin("set", null, "save_freq", "2e6", "a1b2c3d4", null),
        new Coordinator.Leave(workers),
        new Coordinator.AdminReply(400, "save_freq: 'x' is not a number"));
  }

  @Test
  void everyRegisteredMessageRoundTripsThroughTheBoundSerializer() throws Exception {
    List<ClusterMessage> examples = examples();
    Set<Class<?>> covered = examples.stream().map(Object::getClass).collect(Collectors.toSet());
    Set<Class<?>> messages =
        ClusterMessages.classes().stream()
            .filter(ClusterMessage.class::isAssignableFrom)
            .collect(Collectors.toSet());
    assertEquals(messages, covered, "the test must have an example of every registered message");
    for (ClusterMessage m : examples) {
      Serializer s = serialization.findSerializerFor(m);
      assertInstanceOf(KryoSerializer.class, s, "binding of " + m.getClass());
      byte[] bytes = s.toBinary(m);
      Object back = s.fromBinary(bytes, m.getClass());
      assertEquals(m, back);
      assertArrayEquals(bytes, s.toBinary(back));
    }
  }

  @Test
  void anActorRefIsWrittenAsItsPathAndResolvesToTheSameActor() throws Exception {
    WorkerProtocol.Describe m = (WorkerProtocol.Describe) examples().get(0);
    Serializer s = serialization.findSerializerFor(m);
    String bytes = new String(s.toBinary(m), java.nio.charset.StandardCharsets.ISO_8859_1);
    assertTrue(bytes.contains("/user/descriptions"), bytes);
    WorkerProtocol.Describe back =
        (WorkerProtocol.Describe) s.fromBinary(s.toBinary(m), WorkerProtocol.Describe.class);
    assertEquals(m.replyTo(), back.replyTo());
  }

  @Test
  void anUnregisteredClassIsRefusedWithAMessageNamingTheRegistry() {
    Serializer s = serialization.findSerializerFor(new Unlisted("x"));
    assertInstanceOf(KryoSerializer.class, s);
    IllegalArgumentException e =
        assertThrows(IllegalArgumentException.class, () -> s.toBinary(new Unlisted("x")));
    assertTrue(e.getMessage().contains(Unlisted.class.getName()), e.getMessage());
    assertTrue(e.getMessage().contains("ClusterMessages"), e.getMessage());
    assertTrue(e.getMessage().contains("not registered"), e.getMessage());
  }

  @Test
  @SuppressWarnings("JavaUtilDate") // Date only as a JDK Serializable with no other serializer
  void javaSerializationIsOff() {
    assertEquals(
        "off", system.settings().config().getString("pekko.actor.allow-java-serialization"));
    assertThrows(Exception.class, () -> serialization.serialize(new java.util.Date()).get());
  }
}
