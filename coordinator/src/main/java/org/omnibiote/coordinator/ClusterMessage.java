package org.omnibiote.coordinator;

/**
 * Marker of every message that crosses JVMs. Config binds it to the Kryo serializer
 * (org.omnibiote.cluster.KryoSerializer); each implementing class must also be listed in
 * org.omnibiote.cluster.ClusterMessages (registration required).
 */
public interface ClusterMessage {}
