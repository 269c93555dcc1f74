package org.omnibiote.cluster;

/**
 * Marker of every message that crosses JVMs. Config binds it to {@link KryoSerializer}; each
 * implementing class must also be listed in {@link ClusterMessages} (registration required).
 */
public interface ClusterMessage {}
