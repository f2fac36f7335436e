"""The deploy recipes (deploy/), checked offline: an operator who copies them gets a Prometheus that
loads, alerts that fire when they should, a dashboard whose panels show data, and compose and
Kubernetes files that set only settings Sway reads and agree with each other.

promtool comes with Debian's `prometheus` package (`make system-deps`)."""

from __future__ import annotations

import http.server
import json
import re
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from stream.pipeline.metrics import Metrics
from stream.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"
PROM = DEPLOY / "prometheus"
DASHBOARD = DEPLOY / "grafana" / "dashboards" / "sway.json"
K8S = DEPLOY / "k8s"
#: Oldest and newest Kubernetes versions the manifests must be valid for.
K8S_VERSIONS = ("1.30", "1.37")


# --- helpers -----------------------------------------------------------------------------------


def exposed_series() -> set[str]:
    """Every series name a worker's /metrics can show, from Sway's own Metrics, plus `up`."""
    names = {"up"}
    for family in Metrics().registry.collect():
        if family.type == "counter":
            names.add(f"{family.name}_total")
        elif family.type == "histogram":
            names |= {f"{family.name}_{s}" for s in ("bucket", "sum", "count")}
        else:
            names.add(family.name)
    return names


_PROMQL_WORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "offset"}
_PROMQL_WORDS |= {"and", "or", "unless", "inf", "nan"}


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression selects (not functions, labels, keywords or durations)."""
    e = re.sub(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'', '""', expr)
    e = re.sub(r"\{[^}]*\}", " ", e)  # label matchers
    e = re.sub(r"\[[^\]]*\]", " ", e)  # range and subquery durations (and Grafana's $__rate_interval)
    e = re.sub(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", e)
    found = re.findall(r"(?<![\w.:$])([A-Za-z_:][\w:]*)\b(?!\s*\()", e)
    return {n for n in found if n.lower() not in _PROMQL_WORDS}


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("promtool")
    if exe is None:
        pytest.fail("promtool not found: run `make system-deps` (Debian package prometheus)")
    return subprocess.run([exe, *args], capture_output=True, text=True, timeout=60, check=False)


def known_settings() -> set[str]:
    """The environment variables Settings reads (its aliases)."""
    names: set[str] = set()
    for field in Settings.model_fields.values():
        alias = field.validation_alias
        choices = getattr(alias, "choices", [alias])
        names |= {c for c in choices if isinstance(c, str)}
    return names


def assert_valid_settings(env: dict[str, Any], where: str) -> None:
    """Every SWAY_/KAFKA_ variable is one Sway reads, and Sway accepts its value."""
    ours = {k: str(v) for k, v in env.items() if k.startswith(("SWAY_", "KAFKA_"))}
    unknown = set(ours) - known_settings()
    assert not unknown, f"{where}: variables Sway does not read: {sorted(unknown)}"
    Settings(**{k: re.sub(r"\$\{[^}]*\}|\$\([^)]*\)", "x", v) for k, v in ours.items()})


def load_yaml_docs(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


def rules() -> list[dict[str, Any]]:
    groups = yaml.safe_load((PROM / "rules.yml").read_text())["groups"]
    return [r for g in groups for r in g["rules"]]


def dashboard_exprs() -> list[tuple[str, str]]:
    """(panel title, PromQL) for every query of the Grafana dashboard."""
    board = json.loads(DASHBOARD.read_text())
    return [(p["title"], t["expr"]) for p in board["panels"] for t in p.get("targets", [])]


# --- the checker checks ------------------------------------------------------------------------


def test_metric_name_check_catches_a_misspelled_metric() -> None:
    """The name extraction the dashboard and rule checks rely on, on the mistakes it must catch."""
    assert metric_names('sum by (reason) (rate(sway_event_invalid_total{job="sway"}[$__rate_interval]))') == {
        "sway_event_invalid_total"
    }
    assert metric_names(
        'histogram_quantile(0.99, sum by (le) (rate(sway_event_to_score_seconds_bucket{clock="event"}[5m])))'
    ) == {"sway_event_to_score_seconds_bucket"}
    assert metric_names("a / on (job) group_left b > 1e-9 and time() - c offset 5m") == {"a", "b", "c"}
    assert "sway_event_invalid_total" not in exposed_series()
    assert {"sway_events_invalid_total", "sway_ready", "up"} <= exposed_series()


# --- Prometheus --------------------------------------------------------------------------------


def test_prometheus_config_and_rules_load() -> None:
    """What Prometheus itself would refuse at startup."""
    for what, name in (("config", "prometheus.yml"), ("rules", "rules.yml")):
        result = promtool("check", what, str(PROM / name))
        assert result.returncode == 0, result.stdout + result.stderr


def test_kubernetes_prometheus_config_loads(tmp_path: Path) -> None:
    """Debian's promtool lacks Kubernetes discovery, so the relabelling is checked on static targets."""
    config = yaml.safe_load((PROM / "prometheus-kubernetes.yml").read_text())
    (job,) = config["scrape_configs"]
    assert job["job_name"] == "sway", "rules.yml selects job=sway"
    assert job.pop("kubernetes_sd_configs") == [{"role": "pod"}]
    job["static_configs"] = [{"targets": []}]
    config["rule_files"] = [str(PROM / f) for f in config["rule_files"]]
    with_static = tmp_path / "prometheus-static.yml"
    with_static.write_text(yaml.safe_dump(config))
    result = promtool("check", "config", str(with_static))
    assert result.returncode == 0, result.stdout + result.stderr
    # it keeps exactly the pods the StatefulSet labels and annotates
    pod = next(d for d in load_yaml_docs(K8S / "statefulset.yaml"))["spec"]["template"]["metadata"]
    keeps = {
        tuple(r["source_labels"]): r["regex"] for r in job["relabel_configs"] if r.get("action") == "keep"
    }
    assert (
        keeps[("__meta_kubernetes_pod_label_app_kubernetes_io_name",)]
        == pod["labels"]["app.kubernetes.io/name"]
    )
    assert (
        keeps[("__meta_kubernetes_pod_annotation_prometheus_io_scrape",)]
        == pod["annotations"]["prometheus.io/scrape"]
    )


def test_alert_rules_fire_in_their_unit_tests() -> None:
    """rules.test.yml: each alert fires on its situation and stays quiet on a healthy deployment."""
    result = promtool("test", "rules", str(PROM / "rules.test.yml"))
    assert result.returncode == 0, result.stdout + result.stderr
    tests = yaml.safe_load((PROM / "rules.test.yml").read_text())["tests"]
    tested = {a["alertname"] for t in tests for a in t.get("alert_rule_test", []) if a["exp_alerts"]}
    assert tested == {r["alert"] for r in rules()}, "every alert has a test in which it fires"


def test_the_alerts_an_operator_needs_exist() -> None:
    alerts = {r["alert"] for r in rules()}
    assert {
        "SwayWorkerDown",
        "SwayWorkerNotReady",
        "SwayConsumerLagHigh",
        "SwayDLQRateHigh",
        "SwayNoScoreUpdates",
    } <= alerts
    for r in rules():
        assert r["labels"]["severity"] in {"warning", "critical"}, r["alert"]
        assert r["annotations"]["summary"] and r["annotations"]["description"], r["alert"]


def test_alert_rules_select_only_series_sway_exposes() -> None:
    """A misspelled metric in an alert never fires: Prometheus cannot tell."""
    exposed = exposed_series()
    for r in rules():
        unknown = metric_names(r["expr"]) - exposed
        assert not unknown, f"{r['alert']}: unknown series {sorted(unknown)}"


def test_prometheus_scrapes_every_compose_worker() -> None:
    config = yaml.safe_load((PROM / "prometheus.yml").read_text())
    (job,) = config["scrape_configs"]
    assert job["job_name"] == "sway", "rules.yml selects job=sway"
    targets = {t for sc in job["static_configs"] for t in sc["targets"]}
    workers = compose_workers()
    assert targets == {f"{w['hostname']}:{w['environment']['SWAY_WEB_PORT']}" for w in workers.values()}


# --- Grafana -----------------------------------------------------------------------------------


def test_dashboard_panels_query_only_series_sway_exposes() -> None:
    """A panel with a misspelled metric just shows 'No data'."""
    exprs = dashboard_exprs()
    assert exprs, "the dashboard has queries"
    exposed = exposed_series()
    for title, expr in exprs:
        unknown = metric_names(expr) - exposed
        assert not unknown, f"panel {title!r}: unknown series {sorted(unknown)} in {expr}"


def test_dashboard_queries_are_valid_promql(tmp_path: Path) -> None:
    """Each query, with Grafana's variables filled in, parses as PromQL (checked by promtool)."""
    records = [
        {"record": f"dashboard:query_{i}", "expr": expr.replace("$__rate_interval", "1m")}
        for i, (_, expr) in enumerate(dashboard_exprs())
    ]
    path = tmp_path / "dashboard-rules.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": records}]}))
    result = promtool("check", "rules", str(path))
    assert result.returncode == 0, result.stdout + result.stderr


def test_dashboard_shows_what_the_operator_watches() -> None:
    used = {n for _, e in dashboard_exprs() for n in metric_names(e)}
    assert {
        "sway_events_in_total",
        "sway_events_valid_total",
        "sway_events_invalid_total",
        "sway_score_updates_total",
        "sway_event_to_score_seconds_bucket",
        "sway_consumer_lag",
        "sway_users_scored",
        "sway_ready",
        "up",
    } <= used
    exprs = " ".join(e for _, e in dashboard_exprs())
    assert "histogram_quantile(0.5," in exprs and "histogram_quantile(0.99," in exprs
    assert "by (reason)" in exprs and "by (cause)" in exprs and "by (topic, partition)" in exprs


def test_dashboard_is_provisioned_against_the_provisioned_datasource() -> None:
    """Grafana in compose opens the dashboard with the datasource it was given, from the mounted path."""
    board = json.loads(DASHBOARD.read_text())
    ids = [p["id"] for p in board["panels"]]
    assert len(ids) == len(set(ids)), "panel ids are unique"
    (ds_var,) = [v for v in board["templating"]["list"] if v["type"] == "datasource"]
    for panel in board["panels"]:
        assert panel["datasource"]["uid"] == f"${{{ds_var['name']}}}", panel["title"]
    (source,) = yaml.safe_load((DEPLOY / "grafana/provisioning/datasources/prometheus.yaml").read_text())[
        "datasources"
    ]
    assert ds_var["current"]["value"] == source["uid"]
    assert source["url"] == "http://prometheus:9090"
    (provider,) = yaml.safe_load((DEPLOY / "grafana/provisioning/dashboards/sway.yaml").read_text())[
        "providers"
    ]
    grafana = compose()["services"]["grafana"]
    mounts = dict(v.rsplit(":", 1)[0].split(":", 1) for v in grafana["volumes"] if v.startswith("./"))
    assert mounts["./grafana/dashboards"] == provider["options"]["path"]
    assert mounts["./grafana/provisioning"] == "/etc/grafana/provisioning"


# --- compose -----------------------------------------------------------------------------------


def compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    return data


def compose_workers() -> dict[str, dict[str, Any]]:
    return {
        name: svc
        for name, svc in compose()["services"].items()
        if svc.get("build", {}).get("dockerfile") == "deploy/Dockerfile"
    }


def test_compose_workers_set_only_settings_sway_reads() -> None:
    workers = compose_workers()
    assert len(workers) >= 2
    for name, svc in workers.items():
        assert_valid_settings(svc["environment"], f"compose service {name}")


def test_compose_workers_advertise_distinct_reachable_addresses() -> None:
    """Table routing sends a request to the owning worker's SWAY_WEB_HOST: it must be that container."""
    workers = compose_workers()
    hosts = [svc["environment"]["SWAY_WEB_HOST"] for svc in workers.values()]
    assert len(set(hosts)) == len(hosts)
    for name, svc in workers.items():
        assert svc["environment"]["SWAY_WEB_HOST"] in {name, svc.get("hostname")}
        assert svc["environment"]["SWAY_STORE"] == "rocksdb"
        assert any(v.endswith(":" + svc["environment"]["SWAY_DATA_DIR"]) for v in svc["volumes"])
    same = {k for k in next(iter(workers.values()))["environment"] if k != "SWAY_WEB_HOST"}
    for svc in workers.values():
        env = svc["environment"]
        assert {k for k in env if k != "SWAY_WEB_HOST"} == same, "workers of a deployment agree"


def test_compose_kafka_is_a_kraft_node_the_workers_can_reach() -> None:
    services = compose()["services"]
    env = {k: str(v) for k, v in services["kafka"]["environment"].items()}
    assert set(env["KAFKA_PROCESS_ROLES"].split(",")) == {"broker", "controller"}
    node, voter = env["KAFKA_CONTROLLER_QUORUM_VOTERS"].split("@")
    assert node == env["KAFKA_NODE_ID"]
    controller = env["KAFKA_CONTROLLER_LISTENER_NAMES"]
    listeners = dict(item.split("://") for item in env["KAFKA_LISTENERS"].split(","))
    assert voter.split(":")[1] == listeners[controller].split(":")[1]
    protocols = dict(item.split(":") for item in env["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"].split(","))
    assert set(listeners) == set(protocols)
    advertised = dict(item.split("://") for item in env["KAFKA_ADVERTISED_LISTENERS"].split(","))
    assert controller not in advertised
    assert env["KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR"] == "1", "one node cannot hold more replicas"
    for name, svc in compose_workers().items():
        assert svc["environment"]["KAFKA_BOOTSTRAP_SERVERS"] in advertised.values(), name
        assert svc["depends_on"]["kafka"]["condition"] == "service_healthy", name


def test_compose_mounts_and_build_files_exist() -> None:
    for name, svc in compose()["services"].items():
        for volume in svc.get("volumes", []):
            if volume.startswith("./"):
                assert (DEPLOY / volume.split(":")[0]).exists(), f"{name}: {volume}"
        if "build" in svc:
            context = DEPLOY / svc["build"]["context"]
            assert (context / svc["build"]["dockerfile"]).is_file(), name


# --- Dockerfile --------------------------------------------------------------------------------


def dockerfile() -> str:
    return (DEPLOY / "Dockerfile").read_text()


def test_image_copies_what_sway_needs_at_run_time() -> None:
    """stream/events/validate.py reads schemas/ beside the package: the image must keep that layout."""
    text = dockerfile()
    assert re.search(r"^FROM python:3\.12-slim$", text, re.M)
    copied = re.findall(r"^COPY (?!--from)(\S+(?: \S+)*) \S+$", text, re.M)
    sources = {s for line in copied for s in line.split()}
    assert {"requirements.lock", "schemas", "stream", "pyproject.toml"} <= sources
    for source in sources:
        assert (ROOT / source).exists(), source
    assert "pip install -r requirements.lock" in text
    assert re.search(r"pip install --no-deps -e \.", text)
    assert re.search(r"^EXPOSE 6066$", text, re.M)
    assert Settings.model_fields["web_port"].default == 6066
    # the compiled core, built in its own stage from the same sources, sits where it is looked for
    assert "RUN python scripts/compile_core.py" in text
    assert re.search(r"^COPY --from=core /app/build/mypyc \./build/mypyc$", text, re.M)
    ignore = (DEPLOY / "Dockerfile.dockerignore").read_text().splitlines()
    for source in sources:
        assert f"!{source}" in ignore or f"!{source}/" in ignore, f"{source} is excluded from the context"


@pytest.fixture
def health_server() -> Iterator[tuple[int, list[int]]]:
    """A stand-in for a worker's /health answering with the status at the head of the list."""
    status = [200]

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(status[0] if self.path == "/health" else 404)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1], status
    finally:
        server.shutdown()
        server.server_close()


def test_image_healthcheck_follows_the_worker_health(health_server: tuple[int, list[int]]) -> None:
    """The HEALTHCHECK command passes on /health 200 and fails on 503 (starting, rebalancing)."""
    port, status = health_server
    line = re.search(r"^\s*CMD (\[.*\])$", dockerfile().split("HEALTHCHECK", 1)[1], re.M)
    assert line
    argv = json.loads(line.group(1))
    assert argv[0] == "python"
    env = {"SWAY_WEB_HOST": "127.0.0.1", "SWAY_WEB_PORT": str(port)}

    def check() -> int:
        run = subprocess.run([sys.executable, *argv[1:]], env=env, capture_output=True, timeout=30)
        return run.returncode

    assert check() == 0
    status[0] = 503
    assert check() != 0


def test_image_runs_a_worker_that_peers_can_reach() -> None:
    cmd = json.loads(re.findall(r"^CMD (\[.*\])$", dockerfile(), re.M)[-1])
    assert cmd[:2] == ["sh", "-c"] and cmd[2].endswith("exec sway worker")
    script = cmd[2].replace("exec sway worker", 'printf %s "$SWAY_WEB_HOST"')
    defaulted = subprocess.run(["sh", "-c", script], env={"PATH": "/usr/bin:/bin"}, capture_output=True)
    assert defaulted.stdout.decode() not in {"", "127.0.0.1", "localhost"}
    given = subprocess.run(
        ["sh", "-c", script], env={"PATH": "/usr/bin:/bin", "SWAY_WEB_HOST": "sway-1"}, capture_output=True
    )
    assert given.stdout.decode() == "sway-1"


# --- Kubernetes --------------------------------------------------------------------------------


def manifests() -> dict[str, dict[str, Any]]:
    """kind/name -> resource, for every manifest in deploy/k8s except the kustomization."""
    out: dict[str, dict[str, Any]] = {}
    for path in sorted(K8S.glob("*.yaml")):
        if path.name == "kustomization.yaml":
            continue
        for doc in load_yaml_docs(path):
            out[f"{doc['kind']}/{doc['metadata']['name']}"] = doc
    return out


@pytest.mark.parametrize("version", K8S_VERSIONS)
def test_k8s_manifests_are_valid_kubernetes(version: str) -> None:
    """Strict schema validation (bundled schemas, no cluster): a misspelled field is an error."""
    found = manifests()
    assert {
        "ConfigMap/sway-config",
        "Secret/sway-admin",
        "StatefulSet/sway",
        "Service/sway",
        "Service/sway-headless",
    } <= set(found)
    for key, doc in found.items():
        assert "namespace" not in doc["metadata"], f"{key}: manifests are namespace-agnostic"
        try:
            kubernetes_validate.validate(doc, version, strict=True)
        except kubernetes_validate.ValidationError as exc:
            pytest.fail(f"{key} is not valid Kubernetes {version}: {exc.message}")


def test_k8s_validation_rejects_a_misspelled_field() -> None:
    doc = manifests()["StatefulSet/sway"]
    container = doc["spec"]["template"]["spec"]["containers"][0]
    container["readinesProbe"] = container.pop("readinessProbe")
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(doc, K8S_VERSIONS[-1], strict=True)


def test_kustomization_applies_every_manifest_but_the_example_secret() -> None:
    listed = set(yaml.safe_load((K8S / "kustomization.yaml").read_text())["resources"])
    files = {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml"}
    assert listed == files - {"secret.example.yaml"}


def test_k8s_workers_are_configured_and_routable() -> None:
    found = manifests()
    config = found["ConfigMap/sway-config"]["data"]
    sts = found["StatefulSet/sway"]
    pod = sts["spec"]["template"]
    (container,) = pod["spec"]["containers"]
    env = container["env"]
    names = [e["name"] for e in env]

    # settings: only ones Sway reads, valid values
    assert_valid_settings({**config, **{e["name"]: e.get("value", "x") for e in env}}, "k8s")
    assert {c["configMapRef"]["name"] for c in container["envFrom"]} == {"sway-config"}

    # each pod advertises its stable name under the headless service, built from the downward API
    headless = found[f"Service/{sts['spec']['serviceName']}"]["spec"]
    assert headless["clusterIP"] == "None" and headless["publishNotReadyAddresses"] is True
    host = next(e["value"] for e in env if e["name"] == "SWAY_WEB_HOST")
    assert host.startswith(f"$(POD_NAME).{sts['spec']['serviceName']}.$(POD_NAMESPACE).svc")
    for var in re.findall(r"\$\((\w+)\)", host):  # Kubernetes expands only variables defined earlier
        assert names.index(var) < names.index("SWAY_WEB_HOST")
    field_refs = {
        e["name"]: e["valueFrom"]["fieldRef"]["fieldPath"]
        for e in env
        if "fieldRef" in e.get("valueFrom", {})
    }
    assert field_refs == {"POD_NAME": "metadata.name", "POD_NAMESPACE": "metadata.namespace"}

    # the admin token comes from the documented secret
    token = next(e for e in env if e["name"] == "SWAY_ADMIN_TOKEN")["valueFrom"]["secretKeyRef"]
    secret = found[f"Secret/{token['name']}"]
    assert token["key"] in secret["stringData"]

    # probes, ports, scraping and services agree on the worker's port
    port = int(config["SWAY_WEB_PORT"])
    (container_port,) = container["ports"]
    assert container_port["containerPort"] == port
    assert container["readinessProbe"]["httpGet"]["path"] == "/health"
    assert container["readinessProbe"]["httpGet"]["port"] == container_port["name"]
    assert "livenessProbe" in container
    annotations = pod["metadata"]["annotations"]
    assert annotations["prometheus.io/scrape"] == "true"
    assert int(annotations["prometheus.io/port"]) == port and annotations["prometheus.io/path"] == "/metrics"
    selector = sts["spec"]["selector"]["matchLabels"]
    assert selector.items() <= pod["metadata"]["labels"].items()
    for svc in (found["Service/sway"], found["Service/sway-headless"]):
        assert svc["spec"]["selector"] == selector
        assert svc["spec"]["ports"][0]["targetPort"] in {port, container_port["name"]}

    # state lives on the pod's own volume, where SWAY_DATA_DIR points
    assert config["SWAY_STORE"] == "rocksdb"
    (claim,) = sts["spec"]["volumeClaimTemplates"]
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    assert mounts[claim["metadata"]["name"]] == config["SWAY_DATA_DIR"]
    assert pod["spec"]["securityContext"]["fsGroup"], "the non-root image user can write the volume"
