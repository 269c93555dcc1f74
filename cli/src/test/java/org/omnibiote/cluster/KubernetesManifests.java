package org.omnibiote.cluster;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import io.fabric8.kubernetes.api.model.ConfigMap;
import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.PersistentVolumeClaim;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.ServiceAccount;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import io.fabric8.kubernetes.api.model.rbac.Role;
import io.fabric8.kubernetes.api.model.rbac.RoleBinding;
import java.io.IOException;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;

/**
 * deploy/k8s read as Kubernetes reads it: {@code kubectl kustomize} renders a kustomization (so
 * kustomize itself checks the kustomization files), and every document is parsed into the model
 * classes of the fabric8 Kubernetes client, strictly: a field the Kubernetes API does not know
 * (which fabric8 keeps aside in additionalProperties) is an error naming the document and field.
 */
final class KubernetesManifests {
  static final Path K8S = Path.of(System.getProperty("user.dir")).resolveSibling("deploy/k8s");

  private static final Map<String, Class<? extends HasMetadata>> KINDS =
      Map.of(
          "v1/ServiceAccount", ServiceAccount.class,
          "v1/ConfigMap", ConfigMap.class,
          "v1/PersistentVolumeClaim", PersistentVolumeClaim.class,
          "v1/Service", Service.class,
          "apps/v1/Deployment", Deployment.class,
          "rbac.authorization.k8s.io/v1/Role", Role.class,
          "rbac.authorization.k8s.io/v1/RoleBinding", RoleBinding.class);

  /** YAML is read as a tree (Jackson 2's YAML parser, already a test dependency) ... */
  private static final ObjectMapper YAML = new YAMLMapper();

  private static final ObjectMapper JSON = new ObjectMapper();

  /**
   * ... and bound to the models by fabric8's own Jackson (version 3, whose annotations the models
   * carry: quantities, int-or-string ports), as its client does. (Only to read: Jackson 3.2's
   * serialisation needs jackson-annotations 2.22, and the project's BOM keeps 2.21.)
   */
  static final tools.jackson.databind.json.JsonMapper MODEL =
      tools.jackson.databind.json.JsonMapper.builder()
          .enable(tools.jackson.databind.DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
          .build();

  final List<HasMetadata> objects;
  // Each object's document as written, for answers that must carry it unchanged.
  private static final Map<HasMetadata, JsonNode> RAW =
      java.util.Collections.synchronizedMap(new IdentityHashMap<>());

  private KubernetesManifests(List<HasMetadata> objects) {
    this.objects = objects;
  }

  /** The document {@code o} was parsed from. */
  static JsonNode raw(HasMetadata o) {
    return RAW.get(o);
  }

  /** The objects {@code kubectl kustomize deploy/k8s/<dir>} renders, parsed strictly. */
  static KubernetesManifests render(String dir) throws IOException, InterruptedException {
    Process p;
    try {
      p = new ProcessBuilder("kubectl", "kustomize", K8S.resolve(dir).toString()).start();
    } catch (IOException e) {
      throw new AssertionError(
          "kubectl (with kustomize v4 or newer) is needed to render deploy/k8s: " + e.getMessage(),
          e);
    }
    String yaml = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    String err = new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
    if (!p.waitFor(60, TimeUnit.SECONDS) || p.exitValue() != 0 || !err.isBlank()) {
      throw new AssertionError("kubectl kustomize " + dir + " failed or warned:\n" + err);
    }
    return new KubernetesManifests(parse(yaml, "kustomize " + dir));
  }

  /** Every document of a YAML stream, parsed strictly into its model class. */
  static List<HasMetadata> parse(String yaml, String source) throws IOException {
    List<HasMetadata> out = new ArrayList<>();
    var parser = new YAMLFactory().createParser(yaml);
    List<JsonNode> docs = YAML.readValues(parser, JsonNode.class).readAll();
    for (JsonNode doc : docs) {
      if (doc == null || doc.isNull() || doc.isEmpty()) {
        continue;
      }
      String key = doc.path("apiVersion").asText() + "/" + doc.path("kind").asText();
      Class<? extends HasMetadata> type = KINDS.get(key);
      if (type == null) {
        throw new AssertionError(source + ": a " + key + " is not expected in deploy/k8s");
      }
      HasMetadata o = MODEL.readValue(JSON.writeValueAsString(doc), type);
      String where = source + ": " + key + " " + o.getMetadata().getName();
      noUnknownFields(o, where, new IdentityHashMap<>());
      RAW.put(o, doc);
      out.add(o);
    }
    return out;
  }

  /**
   * Fails when any object of the model graph holds additionalProperties: the fields fabric8's
   * models keep aside because the Kubernetes API has no such field (a typo, a wrong indentation).
   */
  static void noUnknownFields(Object o, String where, Map<Object, Boolean> seen) {
    if (o == null || seen.put(o, Boolean.TRUE) != null) {
      return;
    }
    if (o instanceof Collection<?> c) {
      for (Object e : c) {
        noUnknownFields(e, where, seen);
      }
      return;
    }
    if (o instanceof Map<?, ?> m) {
      for (Object e : m.values()) {
        noUnknownFields(e, where, seen);
      }
      return;
    }
    if (!o.getClass().getName().startsWith("io.fabric8.kubernetes.api.model")) {
      return;
    }
    for (Method g : o.getClass().getMethods()) {
      if (g.getParameterCount() != 0
          || Modifier.isStatic(g.getModifiers())
          || !g.getName().startsWith("get")
          || g.getDeclaringClass() == Object.class) {
        continue;
      }
      Object v;
      try {
        v = g.invoke(o);
      } catch (ReflectiveOperationException e) {
        throw new AssertionError(where + ": " + g, e);
      }
      if (g.getName().equals("getAdditionalProperties")) {
        Map<?, ?> extra = (Map<?, ?>) v;
        if (extra != null && !extra.isEmpty()) {
          throw new AssertionError(
              where
                  + ": unknown field(s) "
                  + extra.keySet()
                  + " in a "
                  + o.getClass().getSimpleName());
        }
        continue;
      }
      noUnknownFields(v, where, seen);
    }
  }

  <T extends HasMetadata> List<T> all(Class<T> type) {
    return objects.stream().filter(type::isInstance).map(type::cast).toList();
  }

  <T extends HasMetadata> T one(Class<T> type, String name) {
    List<T> found = all(type).stream().filter(o -> o.getMetadata().getName().equals(name)).toList();
    if (found.size() != 1) {
      throw new AssertionError(
          found.size() + " " + type.getSimpleName() + " named " + name + " in " + names());
    }
    return found.get(0);
  }

  List<String> names() {
    return objects.stream().map(o -> o.getKind() + "/" + o.getMetadata().getName()).toList();
  }

  static Container container(Deployment d) {
    List<Container> cs = d.getSpec().getTemplate().getSpec().getContainers();
    if (cs.size() != 1) {
      throw new AssertionError(d.getMetadata().getName() + ": one container expected");
    }
    return cs.get(0);
  }

  static int port(Container c, String name) {
    return c.getPorts().stream()
        .filter(p -> name.equals(p.getName()))
        .findFirst()
        .orElseThrow(() -> new AssertionError(c.getName() + " has no port named " + name))
        .getContainerPort();
  }

  /** Whether {@code labels} satisfy the equality-based selector {@code k=v[,k=v...]}. */
  static boolean matches(Map<String, String> labels, String selector) {
    for (String term : selector.split(",", -1)) {
      String[] kv = term.split("=", 2);
      if (kv.length != 2 || !kv[1].equals(labels.get(kv[0]))) {
        return false;
      }
    }
    return true;
  }

  static Set<String> keys(Map<String, String> m) {
    return m == null ? Set.of() : m.keySet();
  }
}
