package org.omnibiote.records;

/** The flat-file formats we ingest. */
public enum SeqFormat {
  /** GenBank/GenPept flat files (release .seq, .gb, .gbk, .gbff, .gp), plain or gzip. */
  GENBANK,
  /** FASTA (UniRef100/UniProt), plain or gzip; every record becomes a protein document. */
  FASTA
}
