package org.omnibiote.cluster;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.sun.net.httpserver.HttpsConfigurator;
import com.sun.net.httpserver.HttpsServer;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import io.fabric8.kubernetes.api.model.ConfigMap;
import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.EnvVar;
import io.fabric8.kubernetes.api.model.PersistentVolumeClaim;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodSpec;
import io.fabric8.kubernetes.api.model.Probe;
import io.fabric8.kubernetes.api.model.Quantity;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.ServicePort;
import io.fabric8.kubernetes.api.model.Volume;
import io.fabric8.kubernetes.api.model.VolumeMount;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import io.fabric8.kubernetes.api.model.rbac.PolicyRule;
import io.fabric8.kubernetes.api.model.rbac.Role;
import io.fabric8.kubernetes.api.model.rbac.RoleBinding;
import java.io.IOException;
import java.io.InputStream;
import java.net.HttpURLConnection;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyStore;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.omnibiote.data.IngestOutputs;

/**
 * deploy/k8s: the manifests parse strictly as Kubernetes objects, labels match selectors, probes,
 * ports and the config the pods get agree; and Cluster Bootstrap with Kubernetes API discovery
 * forms a cluster of the coordinator and 2 workers, real JVMs run with the manifests' args, env and
 * ConfigMap, through a local HTTPS server that answers the pods API as the API server does.
 */
class KubernetesDeployTest {
  private static final String COORDINATOR = "omnibiote-coordinator";
  private static final String WORKERS = "omnibiote-worker";
  private static final String CONFIG_DIR = "/etc/omnibiote";
  private static final ObjectMapper JSON = new ObjectMapper();

  @TempDir Path dir;

  /** The config a pod gets: the ConfigMap's cluster.conf over the defaults. */
  private static Config podConfig(KubernetesManifests m) {
    String conf = m.one(ConfigMap.class, "omnibiote-cluster").getData().get("cluster.conf");
    return ConfigFactory.parseString(conf).withFallback(ConfigFactory.load()).resolve();
  }

  @Test
  void theBaseAndTheGpuOverlayRenderAndParseStrictly() throws Exception {
    KubernetesManifests base = KubernetesManifests.render("base");
    KubernetesManifests gpu = KubernetesManifests.render("overlays/gpu");
    List<String> expected =
        List.of(
            "ServiceAccount/omnibiote",
            "Role/omnibiote-pod-reader",
            "RoleBinding/omnibiote-read-pods",
            "ConfigMap/omnibiote-cluster",
            "Service/omnibiote",
            "PersistentVolumeClaim/omnibiote-data",
            "Deployment/" + COORDINATOR,
            "Deployment/" + WORKERS);
    assertEquals(Set.copyOf(expected), Set.copyOf(base.names()));
    assertEquals(Set.copyOf(expected), Set.copyOf(gpu.names()));
    // Each file as written, too (the overlay's patch is a partial Deployment).
    for (String f :
        List.of(
            "base/rbac.yaml",
            "base/config.yaml",
            "base/storage.yaml",
            "base/coordinator.yaml",
            "base/workers.yaml",
            "overlays/gpu/workers-gpu.yaml")) {
      KubernetesManifests.parse(Files.readString(KubernetesManifests.K8S.resolve(f)), f);
    }
  }

  @Test
  void aFieldKubernetesDoesNotKnowIsRefused() throws Exception {
    String yaml =
        Files.readString(KubernetesManifests.K8S.resolve("base/workers.yaml"))
            .replace("periodSeconds: 10", "periodSecond: 10");
    AssertionError e =
        org.junit.jupiter.api.Assertions.assertThrows(
            AssertionError.class, () -> KubernetesManifests.parse(yaml, "workers.yaml"));
    assertTrue(e.getMessage().contains("unknown field(s) [periodSecond]"), e.getMessage());
  }

  @Test
  void labelsSelectorsRbacAndVolumeAgree() throws Exception {
    KubernetesManifests m = KubernetesManifests.render("base");
    Config pod = podConfig(m);
    String selector =
        String.format(
            pod.getString(
                "omnibiote.cluster.system.pekko.discovery.kubernetes-api.pod-label-selector"),
            pod.getString(
                "omnibiote.cluster.system.pekko.management.cluster.bootstrap"
                    + ".contact-point-discovery.service-name"));
    Deployment coordinator = m.one(Deployment.class, COORDINATOR);
    Deployment workers = m.one(Deployment.class, WORKERS);
    for (Deployment d : List.of(coordinator, workers)) {
      Map<String, String> labels = d.getSpec().getTemplate().getMetadata().getLabels();
      d.getSpec()
          .getSelector()
          .getMatchLabels()
          .forEach((k, v) -> assertEquals(v, labels.get(k), d.getMetadata().getName() + " " + k));
      assertTrue(
          KubernetesManifests.matches(labels, selector),
          d.getMetadata().getName() + "'s pods are found by discovery's " + selector);
      PodSpec spec = d.getSpec().getTemplate().getSpec();
      assertEquals("omnibiote", spec.getServiceAccountName());
      Volume data =
          spec.getVolumes().stream().filter(v -> v.getName().equals("data")).findFirst().get();
      assertEquals("omnibiote-data", data.getPersistentVolumeClaim().getClaimName());
      Volume config =
          spec.getVolumes().stream().filter(v -> v.getName().equals("config")).findFirst().get();
      assertEquals("omnibiote-cluster", config.getConfigMap().getName());
    }
    assertEquals(1, coordinator.getSpec().getReplicas());
    assertEquals("Recreate", coordinator.getSpec().getStrategy().getType());
    Map<String, String> serviceSelector = m.one(Service.class, "omnibiote").getSpec().getSelector();
    assertTrue(
        KubernetesManifests.matches(
            coordinator.getSpec().getTemplate().getMetadata().getLabels(), join(serviceSelector)));
    assertFalse(
        KubernetesManifests.matches(
            workers.getSpec().getTemplate().getMetadata().getLabels(), join(serviceSelector)),
        "the Service selects the coordinator only");

    PersistentVolumeClaim pvc = m.one(PersistentVolumeClaim.class, "omnibiote-data");
    assertEquals(List.of("ReadWriteMany"), pvc.getSpec().getAccessModes());

    RoleBinding binding = m.one(RoleBinding.class, "omnibiote-read-pods");
    assertEquals("ServiceAccount", binding.getSubjects().get(0).getKind());
    assertEquals("omnibiote", binding.getSubjects().get(0).getName());
    assertEquals("Role", binding.getRoleRef().getKind());
    Role role = m.one(Role.class, binding.getRoleRef().getName());
    PolicyRule rule = role.getRules().get(0);
    assertEquals(List.of(""), rule.getApiGroups());
    assertEquals(List.of("pods"), rule.getResources());
    assertTrue(rule.getVerbs().containsAll(List.of("get", "list", "watch")));
    assertEquals(1, role.getRules().size(), "read pods, nothing else");
  }

  private static String join(Map<String, String> labels) {
    return String.join(
        ",", labels.entrySet().stream().map(e -> e.getKey() + "=" + e.getValue()).toList());
  }

  @Test
  void probesPortsArgsAndThePodsConfigAgree() throws Exception {
    KubernetesManifests m = KubernetesManifests.render("base");
    Config pod = podConfig(m);
    assertEquals("kubernetes-api", pod.getString("omnibiote.cluster.discovery"));
    String portName =
        pod.getString(
            "omnibiote.cluster.system.pekko.management.cluster.bootstrap"
                + ".contact-point-discovery.port-name");
    String ready = "/" + pod.getString("pekko.management.health-checks.readiness-path");
    String alive = "/" + pod.getString("pekko.management.health-checks.liveness-path");
    Deployment coordinator = m.one(Deployment.class, COORDINATOR);
    Deployment workers = m.one(Deployment.class, WORKERS);
    for (Deployment d : List.of(coordinator, workers)) {
      String what = d.getMetadata().getName();
      Container c = KubernetesManifests.container(d);
      assertEquals(pod.getInt("omnibiote.cluster.port"), KubernetesManifests.port(c, "remoting"));
      assertEquals(
          pod.getInt("omnibiote.cluster.management-port"), KubernetesManifests.port(c, portName));
      for (Probe p : List.of(c.getStartupProbe(), c.getLivenessProbe())) {
        assertEquals(alive, p.getHttpGet().getPath(), what);
        assertEquals(portName, p.getHttpGet().getPort().getStrVal(), what);
      }
      assertEquals(ready, c.getReadinessProbe().getHttpGet().getPath(), what);
      assertEquals(portName, c.getReadinessProbe().getHttpGet().getPort().getStrVal(), what);
      // The node's address is the pod's IP (what discovery returns for it).
      EnvVar host =
          c.getEnv().stream().filter(e -> e.getName().equals("OMNIBIOTE_HOST")).findFirst().get();
      assertEquals("status.podIP", host.getValueFrom().getFieldRef().getFieldPath(), what);
      // --config names the mounted ConfigMap key; the run's paths are on the shared volume.
      List<String> args = c.getArgs();
      assertEquals(CONFIG_DIR + "/cluster.conf", args.get(args.indexOf("--config") + 1), what);
      String dataMount = mount(c, "data").getMountPath();
      assertEquals(CONFIG_DIR, mount(c, "config").getMountPath(), what);
      if (d == coordinator) {
        assertEquals("coordinator", args.get(0));
        assertTrue(args.get(args.indexOf("--base_dir") + 1).startsWith(dataMount + "/"));
        assertTrue(args.get(args.indexOf("--save_name") + 1).startsWith(dataMount + "/"));
        assertEquals(pod.getInt("omnibiote.console.port"), KubernetesManifests.port(c, "console"));
      } else {
        assertEquals("worker", args.get(0));
        assertEquals(
            pod.getInt("omnibiote.distributed.store-port"), KubernetesManifests.port(c, "store"));
        assertEquals("cpu", args.get(args.indexOf("--devices") + 1));
      }
    }
    for (ServicePort p : m.one(Service.class, "omnibiote").getSpec().getPorts()) {
      Container c = KubernetesManifests.container(coordinator);
      assertEquals(p.getName(), p.getTargetPort().getStrVal());
      assertEquals(KubernetesManifests.port(c, p.getName()), p.getPort());
    }
  }

  private static VolumeMount mount(Container c, String volume) {
    return c.getVolumeMounts().stream()
        .filter(v -> v.getName().equals(volume))
        .findFirst()
        .orElseThrow(() -> new AssertionError(c.getName() + " does not mount " + volume));
  }

  @Test
  void theGpuOverlayGivesEachWorkerOneGpuAndLeavesTheCoordinatorAlone() throws Exception {
    KubernetesManifests base = KubernetesManifests.render("base");
    KubernetesManifests gpu = KubernetesManifests.render("overlays/gpu");
    Container worker = KubernetesManifests.container(gpu.one(Deployment.class, WORKERS));
    Quantity one = new Quantity("1");
    assertEquals(one, worker.getResources().getLimits().get("nvidia.com/gpu"));
    assertEquals(one, worker.getResources().getRequests().get("nvidia.com/gpu"));
    assertEquals("cuda:0", worker.getArgs().get(worker.getArgs().indexOf("--devices") + 1));
    assertEquals("omnibiote:gpu", worker.getImage());
    Container baseWorker = KubernetesManifests.container(base.one(Deployment.class, WORKERS));
    // The patch changes only devices, image and resources: probes, ports, env, mounts stay.
    assertEquals(baseWorker.getPorts(), worker.getPorts());
    assertEquals(baseWorker.getReadinessProbe(), worker.getReadinessProbe());
    assertEquals(baseWorker.getEnv(), worker.getEnv());
    assertEquals(baseWorker.getVolumeMounts(), worker.getVolumeMounts());
    assertNull(baseWorker.getResources().getLimits().get("nvidia.com/gpu"));
    assertEquals(base.one(Deployment.class, COORDINATOR), gpu.one(Deployment.class, COORDINATOR));
  }

  // ---------------------------------------------------------------------------------------------
  // Cluster Bootstrap through the pods API

  /**
   * A pod as the API server lists it: the Deployment's pod template (labels and spec as written),
   * Running, with an IP.
   */
  private static ObjectNode pod(Deployment d, String name, String ip) {
    JsonNode template = KubernetesManifests.raw(d).path("spec").path("template");
    ObjectNode pod = JSON.createObjectNode();
    ObjectNode meta = pod.putObject("metadata");
    meta.put("name", name).put("namespace", "omnibiote-test");
    meta.set("labels", template.path("metadata").path("labels").deepCopy());
    pod.set("spec", template.path("spec").deepCopy());
    pod.putObject("status").put("phase", "Running").put("podIP", ip);
    return pod;
  }

  @Test
  @Timeout(value = 300, unit = TimeUnit.SECONDS)
  void clusterBootstrapFormsTheClusterFromTheManifestsAndTheRunTrains() throws Exception {
    KubernetesManifests m = KubernetesManifests.render("base");
    Deployment coordinator = m.one(Deployment.class, COORDINATOR);
    Deployment workers = m.one(Deployment.class, WORKERS);
    Config pod = podConfig(m);
    int remoting = pod.getInt("omnibiote.cluster.port");
    int management = pod.getInt("omnibiote.cluster.management-port");
    // Three "pod IPs" on the loopback; the manifests' fixed ports must be free on each.
    Map<String, String> ips = new LinkedHashMap<>();
    ips.put("omnibiote-coordinator-7d9f-abcde", "127.0.13.1");
    ips.put("omnibiote-worker-5c8b-fghij", "127.0.13.2");
    ips.put("omnibiote-worker-5c8b-klmno", "127.0.13.3");
    for (String ip : ips.values()) {
      for (int port : List.of(remoting, management)) {
        try (ServerSocket s = new ServerSocket(port, 1, InetAddress.getByName(ip))) {
          assertTrue(s.isBound());
        }
      }
    }
    List<ObjectNode> pods = new ArrayList<>();
    ips.forEach(
        (name, ip) ->
            pods.add(pod(name.contains("coordinator") ? coordinator : workers, name, ip)));

    // What is served parses as Kubernetes pods.
    for (ObjectNode p : pods) {
      KubernetesManifests.MODEL.readValue(JSON.writeValueAsString(p), Pod.class);
    }

    // The service account's files, as Kubernetes mounts them into a pod.
    Path sa = Files.createDirectories(dir.resolve("serviceaccount"));
    Files.writeString(sa.resolve("token"), "test-token-42");
    Files.writeString(sa.resolve("namespace"), "omnibiote-test");
    SSLContext tls = selfSignedTls(sa);

    Map<String, Integer> queries = new ConcurrentHashMap<>();
    List<Throwable> apiErrors = new java.util.concurrent.CopyOnWriteArrayList<>();
    HttpsServer api = HttpsServer.create(new InetSocketAddress("127.0.0.1", 0), 16);
    api.setHttpsConfigurator(new HttpsConfigurator(tls));
    api.createContext(
        "/",
        ex -> {
          try {
            answerPods(ex, pods, queries);
          } catch (RuntimeException | IOException | Error e) {
            apiErrors.add(e);
            throw e;
          }
        });
    api.start();

    Path data = Files.createDirectories(dir.resolve("data"));
    IngestOutputs.smallVocabularyIngest(data.resolve("shards"), 512);
    Path conf = Files.createDirectories(dir.resolve("etc-omnibiote"));
    Files.writeString(
        conf.resolve("cluster.conf"),
        m.one(ConfigMap.class, "omnibiote-cluster").getData().get("cluster.conf"));
    List<String> jvm =
        List.of(
            "-Dpekko.discovery.kubernetes-api.api-ca-path=" + sa.resolve("ca.crt"),
            "-Dpekko.discovery.kubernetes-api.api-token-path=" + sa.resolve("token"),
            "-Dpekko.discovery.kubernetes-api.pod-namespace-path=" + sa.resolve("namespace"),
            // The one departure from the pods' config: libtorch's TCPStore listens on every
            // address of its network namespace, so the manifests' fixed store port, one per pod
            // there, would collide here where the three "pods" share one namespace.
            "-Domnibiote.distributed.store-port=0");
    int steps = 40;
    // The run's size only: a tiny model and 40 steps instead of the manifest's example run.
    List<String> tiny =
        new ArrayList<>(DistributedTrainingTest.flags(data.resolve("shards"), dir, steps, 1000));
    for (String pathFlag : List.of("--base_dir", "--save_name")) {
      int at = tiny.indexOf(pathFlag);
      tiny.subList(at, at + 2).clear();
    }
    List<NodeProcess> nodes = new ArrayList<>();
    Path runDir = null;
    try {
      for (Map.Entry<String, String> p : ips.entrySet()) {
        boolean isCoordinator = p.getKey().contains("coordinator");
        Container c = KubernetesManifests.container(isCoordinator ? coordinator : workers);
        List<String> args = new ArrayList<>();
        for (String a : c.getArgs()) {
          args.add(a.replace(CONFIG_DIR, conf.toString()).replace("/data", data.toString()));
        }
        if (isCoordinator) {
          runDir = Path.of(args.get(args.indexOf("--save_name") + 1)).getParent();
          assertTrue(runDir.startsWith(data), runDir.toString());
          for (int i = 0; i < tiny.size(); i += 2) {
            int at = args.indexOf(tiny.get(i));
            if (at >= 0) {
              args.set(at + 1, tiny.get(i + 1));
            } else {
              args.addAll(List.of(tiny.get(i), tiny.get(i + 1)));
            }
          }
        }
        Map<String, String> env = new HashMap<>();
        env.put("OMNIBIOTE_HOST", p.getValue()); // status.podIP
        env.put("KUBERNETES_SERVICE_HOST", "127.0.0.1");
        env.put("KUBERNETES_SERVICE_PORT", Integer.toString(api.getAddress().getPort()));
        nodes.add(new NodeProcess(p.getKey(), List.of(), jvm, env, args.toArray(String[]::new)));
      }
      NodeProcess coord = nodes.get(0);
      // Every node becomes ready (an Up member) through its management endpoint, as the
      // readiness probe asks; before the run can end (it waits for both workers).
      for (String ip : ips.values()) {
        String context = "API server errors: " + apiErrors + "; coordinator:\n";
        awaitHttp200(
            "http://" + ip + ":" + management + "/ready", () -> context + coord.output(), 120);
        awaitHttp200(
            "http://" + ip + ":" + management + "/alive", () -> context + coord.output(), 5);
      }
      if (!coord.process.waitFor(150, TimeUnit.SECONDS)) {
        StringBuilder all = new StringBuilder("the run did not end within 150 s\n");
        for (NodeProcess n : nodes) {
          all.append("---- ").append(n.name).append(":\n").append(n.output()).append('\n');
        }
        throw new AssertionError(all.toString());
      }
      assertEquals(0, coord.exitCode(1), coord.output());
      for (NodeProcess w : nodes.subList(1, 3)) {
        assertEquals(0, w.exitCode(60), w.output());
      }
      String out = coord.output();
      assertTrue(out.contains("trained " + steps + " steps"), out);
      assertTrue(
          out.contains("finding the cluster through Cluster Bootstrap (kubernetes-api discovery)"),
          out);
      assertEquals(Set.of("app.kubernetes.io/part-of=omnibiote"), queries.keySet());
      DistributedTrainingTest.checkLedger(runDir, steps);
      // Both workers trained: a world of 2 ranks.
      assertTrue(
          Files.readString(runDir.resolve("ledger.jsonl")).contains("@127.0.13.3 pid"),
          "the second worker pod took part");
    } finally {
      for (NodeProcess n : nodes) {
        n.close();
      }
      api.stop(0);
    }
  }

  /** GET /api/v1/namespaces/NS/pods?labelSelector=S as the API server answers it. */
  private static void answerPods(
      com.sun.net.httpserver.HttpExchange ex, List<ObjectNode> pods, Map<String, Integer> queries)
      throws IOException {
    String path = ex.getRequestURI().getPath();
    String query = ex.getRequestURI().getRawQuery();
    String auth = ex.getRequestHeaders().getFirst("Authorization");
    int code;
    byte[] body;
    if (!"Bearer test-token-42".equals(auth)) {
      code = 401;
      body = "{\"kind\":\"Status\",\"code\":401}".getBytes(StandardCharsets.UTF_8);
    } else if (!path.equals("/api/v1/namespaces/omnibiote-test/pods")
        || query == null
        || !query.startsWith("labelSelector=")) {
      code = 404;
      body = "{\"kind\":\"Status\",\"code\":404}".getBytes(StandardCharsets.UTF_8);
    } else {
      String selector =
          URLDecoder.decode(query.substring("labelSelector=".length()), StandardCharsets.UTF_8);
      queries.merge(selector, 1, Integer::sum);
      ObjectNode list = JSON.createObjectNode();
      list.put("kind", "PodList").put("apiVersion", "v1");
      list.putObject("metadata").put("resourceVersion", "1");
      var items = list.putArray("items");
      for (ObjectNode p : pods) {
        Map<String, String> labels = new HashMap<>();
        p.path("metadata")
            .path("labels")
            .properties()
            .forEach(e -> labels.put(e.getKey(), e.getValue().asText()));
        if (KubernetesManifests.matches(labels, selector)) {
          items.add(p);
        }
      }
      code = 200;
      body = JSON.writeValueAsBytes(list);
    }
    ex.getResponseHeaders().add("Content-Type", "application/json");
    ex.sendResponseHeaders(code, body.length);
    ex.getResponseBody().write(body);
    ex.close();
  }

  private static void awaitHttp200(
      String url, java.util.function.Supplier<String> context, long seconds) throws Exception {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
    String last = "nothing";
    while (System.nanoTime() < deadline) {
      try {
        HttpURLConnection c = (HttpURLConnection) URI.create(url).toURL().openConnection();
        c.setConnectTimeout(1000);
        c.setReadTimeout(2000);
        int code = c.getResponseCode();
        InputStream body = code < 400 ? c.getInputStream() : c.getErrorStream();
        last =
            code
                + " "
                + (body == null ? "" : new String(body.readAllBytes(), StandardCharsets.UTF_8));
        c.disconnect();
        if (code == 200) {
          return;
        }
      } catch (IOException e) {
        last = e.toString();
      }
      Thread.sleep(250);
    }
    throw new AssertionError(
        url + " answered " + last + " within " + seconds + " s; " + context.get());
  }

  /**
   * A TLS context for the fake API server with a self-signed certificate for 127.0.0.1 (made by the
   * JDK's keytool), and that certificate written as the service account's ca.crt.
   */
  private static SSLContext selfSignedTls(Path sa) throws Exception {
    Path keytool = Path.of(System.getProperty("java.home"), "bin", "keytool");
    Path ks = sa.resolve("api.p12");
    run(
        keytool.toString(),
        "-genkeypair",
        "-alias",
        "api",
        "-keyalg",
        "RSA",
        "-keysize",
        "2048",
        "-dname",
        "CN=kubernetes",
        "-ext",
        "SAN=ip:127.0.0.1",
        "-validity",
        "2",
        "-storetype",
        "PKCS12",
        "-keystore",
        ks.toString(),
        "-storepass",
        "changeit");
    run(
        keytool.toString(),
        "-exportcert",
        "-rfc",
        "-alias",
        "api",
        "-keystore",
        ks.toString(),
        "-storepass",
        "changeit",
        "-file",
        sa.resolve("ca.crt").toString());
    KeyStore store = KeyStore.getInstance("PKCS12");
    try (InputStream in = Files.newInputStream(ks)) {
      store.load(in, "changeit".toCharArray());
    }
    KeyManagerFactory kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
    kmf.init(store, "changeit".toCharArray());
    SSLContext tls = SSLContext.getInstance("TLS");
    tls.init(kmf.getKeyManagers(), null, null);
    return tls;
  }

  private static void run(String... cmd) throws Exception {
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    if (!p.waitFor(60, TimeUnit.SECONDS) || p.exitValue() != 0) {
      throw new AssertionError(String.join(" ", cmd) + " failed:\n" + out);
    }
  }
}
