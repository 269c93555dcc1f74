package org.omnibiote.settings;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;
import org.omnibiote.UserError;

class OmniBioTAConfigJsonTest {
  @Test
  void bothRopeVariantsSurviveAJsonRoundTrip() {
    for (OmniBioTAConfig.RopeVariant v : OmniBioTAConfig.RopeVariant.values()) {
      OmniBioTAConfig config = new OmniBioTAConfig(97, 48, 2, 4, 16, 0.1).withRope(v);
      String json = config.toJson();
      assertTrue(json.contains("\"rope\":\"" + v.json() + "\""), json);
      assertEquals(config, OmniBioTAConfig.fromJson(json));
    }
    assertEquals("cos_only", OmniBioTAConfig.RopeVariant.COS_ONLY.json());
  }

  @Test
  void jsonWithoutARopeKeyMeansRotary() {
    // What checkpoints written before the option existed hold.
    String old =
        "{\"vocab_size\":97,\"n_embd\":48,\"n_layer\":2,\"n_head\":4,\"ctx_len\":16,\"dropout\":0.1}";
    OmniBioTAConfig config = OmniBioTAConfig.fromJson(old);
    assertEquals(OmniBioTAConfig.RopeVariant.ROTARY, config.rope());
    assertEquals(new OmniBioTAConfig(97, 48, 2, 4, 16, 0.1), config);
  }

  @Test
  void anUnknownRopeVariantIsRefusedByName() {
    String bad =
        "{\"vocab_size\":97,\"n_embd\":48,\"n_layer\":2,\"n_head\":4,\"ctx_len\":16,\"dropout\":0.1,"
            + "\"rope\":\"sine\"}";
    UserError e = assertThrows(UserError.class, () -> OmniBioTAConfig.fromJson(bad));
    assertTrue(
        e.getMessage().contains("sine") && e.getMessage().contains("cos_only"), e.getMessage());
  }
}
