package org.omnibiote.records;

import java.nio.file.Path;

/**
 * One sequence record as the original preprocessing sees it: the tag is Biopython's {@code
 * annotations["molecule_type"]} for GenBank ("DNA", "mRNA", ...; "protein" for FASTA) and the
 * sequence is upper case.
 *
 * @param id accession.version (GenBank) or the FASTA identifier; the split key
 * @param file where the record came from
 * @param line 1-based line of the record's first line in {@code file}
 */
public record SeqRecord(String id, String moleculeType, String sequence, Path file, long line) {

  /** The document the original writes for this record: {@code <tag>SEQUENCE<EOS>}. */
  public String document() {
    return "<" + moleculeType + ">" + sequence + "<EOS>";
  }
}
