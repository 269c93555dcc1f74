package org.omnibiote.encode;

/**
 * One input of encode: its record id (the FASTA identifier, or {@code lineN} for ids input) and its
 * token ids, exactly as the model sees them (tag first and EOS last for FASTA).
 */
public record Sequence(String id, int[] ids) {}
