package org.omnibiote.finetune;

/**
 * One labelled input of a fine-tuning task: where it came from ({@code id}, e.g. {@code
 * train.csv:12} or a ProNAB protein and measurement), the group it must stay with in
 * cross-validation (the protein), the token ids the model sees, and its label (a class index for
 * classification, a value for regression).
 */
public record Example(String id, String group, int[] tokens, double label) {}
