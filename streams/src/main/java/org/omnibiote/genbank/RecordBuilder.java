package org.omnibiote.genbank;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import org.omnibiote.records.PyText;
import org.omnibiote.records.SequenceBuffer;

/**
 * The state of one record as Biopython's {@code _FeatureConsumer} keeps it, reduced to what decides
 * the record's id, its {@code molecule_type} annotation and whether it has a sequence, plus the
 * checks where that consumer raises.
 */
final class RecordBuilder {
  static final String UNKNOWN_NAME = "<unknown name>";

  String name;
  String id;
  List<String> accessions;
  Long sequenceVersion;
  String seqType;
  String moleculeType;
  Long expectedSize;

  /** "circular" in the LOCUS topology: Biopython's location parser allows origin wrapping. */
  boolean circular;

  boolean haveReference;
  final SequenceBuffer sequence = new SequenceBuffer();

  void reset() {
    name = UNKNOWN_NAME;
    id = null;
    accessions = null;
    sequenceVersion = null;
    seqType = "";
    moleculeType = null;
    expectedSize = null;
    circular = false;
    haveReference = false;
    sequence.clear();
  }

  /** The best name for messages so far: id, first accession, or LOCUS name. */
  String label() {
    if (id != null && !id.isEmpty()) {
      return id;
    }
    if (accessions != null && !accessions.isEmpty()) {
      return accessions.get(0);
    }
    return UNKNOWN_NAME.equals(name) ? null : name;
  }

  void locus(String locusName) {
    name = locusName;
  }

  void size(String content) throws GenBankFormatException {
    expectedSize = pyInt(content);
  }

  static long pyInt(String content) throws GenBankFormatException {
    try {
      return PyText.parseInt(content);
    } catch (NumberFormatException e) {
      throw new GenBankFormatException(e.getMessage());
    }
  }

  void residueType(String type) {
    seqType = PyText.strip(type);
  }

  void moleculeType(String molType) throws GenBankFormatException {
    if (!molType.isEmpty()) {
      if (molType.contains("circular") || molType.contains("linear")) {
        throw new GenBankFormatException(
            "Molecule type '" + molType + "' should not include topology");
      }
      moleculeType = molType;
    }
  }

  void topology(String topology) {
    circular = topology.toLowerCase(Locale.ROOT).contains("circular");
  }

  void accession(String accNum) {
    List<String> fresh = new ArrayList<>();
    for (String acc : PyText.split(accNum.replace("\n", " ").replace(";", " "))) {
      String a = PyText.strip(acc);
      if (!a.isEmpty()) {
        fresh.add(a);
      }
    }
    if (accessions == null) {
      // Biopython only creates the list when there is at least one accession to add.
      if (!fresh.isEmpty()) {
        accessions = fresh;
      }
    } else {
      for (String acc : fresh) {
        if (!accessions.contains(acc)) {
          accessions.add(acc);
        }
      }
    }
    if ((id == null || id.isEmpty()) && !fresh.isEmpty()) {
      id = accessions.get(0);
    }
  }

  void version(String versionId) throws GenBankFormatException {
    List<String> parts = PyText.split(versionId, ".");
    if (parts.size() == 2 && PyText.isDigits(parts.get(1))) {
      accession(parts.get(0));
      sequenceVersion = pyInt(parts.get(1));
    } else if (!versionId.isEmpty()) {
      id = versionId;
    }
  }

  void referenceBases(String content) throws GenBankFormatException {
    if (!content.endsWith(")")) {
      throw new GenBankFormatException("REFERENCE line does not end with ')': " + content);
    }
    String info = content.substring(1, content.length() - 1);
    if (info.contains("bases") && info.contains("to")) {
      splitReferenceLocations(PyText.slice(info, 5));
    } else if (info.contains("residues") && info.contains("to")) {
      int at = info.indexOf("residues");
      splitReferenceLocations(PyText.slice(info, at + "residues ".length()));
    } else if (!info.equals("sites") && !PyText.strip(info).equals("bases")) {
      throw new GenBankFormatException("Could not parse base info " + info + " in record " + id);
    }
  }

  private static void splitReferenceLocations(String locations) throws GenBankFormatException {
    for (String baseInfo : PyText.split(locations, ";")) {
      List<String> ends = PyText.split(baseInfo, "to");
      if (ends.size() != 2) {
        throw new GenBankFormatException("Could not parse reference location '" + baseInfo + "'");
      }
      long start = pyInt(ends.get(0)) - 1;
      long end = pyInt(ends.get(1));
      if (start > end) {
        throw new GenBankFormatException(
            "End location ("
                + end
                + ") must be greater than or equal to start location ("
                + start
                + ")");
      }
    }
  }

  /** Biopython's record_end and parse_records checks: id, then the molecule type. */
  void recordEnd() throws GenBankFormatException {
    if (id == null || id.isEmpty()) {
      if (accessions != null) {
        throw new GenBankFormatException(
            "Problem adding version number to accession: " + accessions);
      }
      id = name;
    } else if (id.indexOf('.') < 0 && sequenceVersion != null) {
      id = id + "." + sequenceVersion;
    }
    String derived = null;
    if (!seqType.isEmpty()) {
      String upper = seqType.toUpperCase(Locale.ROOT);
      if (upper.contains("DNA") || upper.contains("MRNA")) {
        derived = "DNA";
      } else if (upper.contains("RNA")) {
        derived = "RNA";
      } else if (upper.contains("PROTEIN") || seqType.equals("PRT")) {
        derived = "protein";
      } else if (!(seqType.equals("circular")
          || seqType.equals("linear")
          || seqType.equals("unspecified"))) {
        throw new GenBankFormatException(
            "Could not determine molecule_type for seq_type " + seqType);
      }
    }
    if (moleculeType == null) {
      moleculeType = derived;
    }
    if (id == null) {
      throw new GenBankFormatException("Failed to parse the record's ID. Invalid ID line?");
    }
    if (UNKNOWN_NAME.equals(name)) {
      throw new GenBankFormatException("Failed to parse the record's name. Invalid ID line?");
    }
  }

  /** True when Biopython's record.seq is undefined: no sequence data but a non-zero length. */
  boolean sequenceUndefined() {
    return sequence.length() == 0 && expectedSize != null && expectedSize != 0;
  }
}
