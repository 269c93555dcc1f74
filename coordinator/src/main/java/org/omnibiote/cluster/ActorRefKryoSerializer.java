package org.omnibiote.cluster;

import com.esotericsoftware.kryo.Kryo;
import com.esotericsoftware.kryo.Serializer;
import com.esotericsoftware.kryo.io.Input;
import com.esotericsoftware.kryo.io.Output;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorRefResolver;

/** A typed ActorRef on the wire: its full path (with the node's address), resolved on read. */
final class ActorRefKryoSerializer extends Serializer<ActorRef<?>> {

  private final ActorRefResolver resolver;

  ActorRefKryoSerializer(ActorRefResolver resolver) {
    super(false, true);
    this.resolver = resolver;
  }

  @Override
  public void write(Kryo kryo, Output output, ActorRef<?> ref) {
    output.writeString(resolver.toSerializationFormat(ref));
  }

  @Override
  public ActorRef<?> read(Kryo kryo, Input input, Class<? extends ActorRef<?>> type) {
    return resolver.resolveActorRef(input.readString());
  }
}
