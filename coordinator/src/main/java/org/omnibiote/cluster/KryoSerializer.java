package org.omnibiote.cluster;

import com.esotericsoftware.kryo.Kryo;
import com.esotericsoftware.kryo.KryoException;
import com.esotericsoftware.kryo.Registration;
import com.esotericsoftware.kryo.io.Input;
import com.esotericsoftware.kryo.io.Output;
import com.esotericsoftware.kryo.util.DefaultClassResolver;
import com.esotericsoftware.kryo.util.MapReferenceResolver;
import com.esotericsoftware.kryo.util.Pool;
import org.apache.pekko.actor.ExtendedActorSystem;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorRefResolver;
import org.apache.pekko.actor.typed.javadsl.Adapter;
import org.apache.pekko.serialization.JSerializer;

/**
 * Pekko serializer for {@link ClusterMessage}s over Kryo 5 with registration required: the bytes
 * are the class's fixed id from {@link ClusterMessages} and the record's components, so no class
 * names travel and an unlisted class is refused on the sending side.
 *
 * <p>Kryo instances are not thread-safe; Pekko calls serializers from many threads, so each call
 * borrows one from a pool.
 */
public final class KryoSerializer extends JSerializer {

  /** Pekko reserves 0-40 for its own serializers. */
  public static final int IDENTIFIER = 4_713;

  private final Pool<Kryo> pool;

  public KryoSerializer(ExtendedActorSystem system) {
    ActorRefKryoSerializer refs =
        new ActorRefKryoSerializer(ActorRefResolver.get(Adapter.toTyped(system)));
    this.pool =
        new Pool<>(true, false, 16) {
          @Override
          protected Kryo create() {
            Kryo kryo = new Kryo(new ActorRefClassResolver(), new MapReferenceResolver());
            kryo.setRegistrationRequired(true);
            // Messages are trees of records: no shared references or cycles to track.
            kryo.setReferences(false);
            ClusterMessages.register(kryo, refs);
            return kryo;
          }
        };
  }

  @Override
  public int identifier() {
    return IDENTIFIER;
  }

  @Override
  public boolean includeManifest() {
    return false;
  }

  @Override
  public byte[] toBinary(Object message) {
    Kryo kryo = pool.obtain();
    try (Output out = new Output(256, -1)) {
      kryo.writeClassAndObject(out, message);
      return out.toBytes();
    } catch (IllegalArgumentException | KryoException e) {
      throw new IllegalArgumentException(
          "cannot serialize "
              + message.getClass().getName()
              + " for the cluster: "
              + e.getMessage()
              + " (every ClusterMessage and every class it"
              + " carries must be listed in "
              + ClusterMessages.class.getName()
              + ")",
          e);
    } finally {
      pool.free(kryo);
    }
  }

  @Override
  public Object fromBinaryJava(byte[] bytes, Class<?> manifest) {
    Kryo kryo = pool.obtain();
    try (Input in = new Input(bytes)) {
      return kryo.readClassAndObject(in);
    } finally {
      pool.free(kryo);
    }
  }

  /**
   * Maps every implementation of the typed ActorRef (local, remote, adapters, ask's temporary refs)
   * to the one registration of the interface, whose serializer writes the path.
   */
  private static final class ActorRefClassResolver extends DefaultClassResolver {
    @Override
    @SuppressWarnings("rawtypes") // Kryo's signature
    public Registration getRegistration(Class type) {
      Registration r = super.getRegistration(type);
      if (r == null && ActorRef.class.isAssignableFrom(type)) {
        return super.getRegistration(ActorRef.class);
      }
      return r;
    }
  }
}
