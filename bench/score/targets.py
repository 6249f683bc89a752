"""The servers under test: one upstream, nginx + ModSecurity v3 + OWASP CRS (PL1, PL2),
rampart (detector level 1, 2). Config files are written into the out dir; every process is
started here (own session, so its whole group can be stopped by its id) and stopped here."""

from __future__ import annotations

import glob
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time

APT_PACKAGES = ["nginx", "libnginx-mod-http-modsecurity", "modsecurity-crs"]

MODSEC_MODULE = "/usr/lib/nginx/modules/ngx_http_modsecurity_module.so"
CRS_RULES = "/usr/share/modsecurity-crs/rules"
CRS_ETC = "/etc/modsecurity/crs"
# libmodsecurity's recommended config: Debian ships it with the nginx connector.
MODSEC_RECOMMENDED = [
    "/etc/modsecurity/modsecurity.conf-recommended",
    "/usr/share/nginx/docs/modsecurity/modsecurity.conf",
    "/etc/nginx/modsecurity.conf",
]
CRS_SETUP = [
    "/usr/share/modsecurity-crs/crs-setup.conf.example",
    "/etc/modsecurity/crs/crs-setup.conf.example",
    "/etc/modsecurity/crs/crs-setup.conf",
]
UNICODE_MAPPING = ["/etc/modsecurity/unicode.mapping", "/etc/nginx/unicode.mapping"]

UPSTREAM_BODY = '{"ok":true,"from":"score-upstream"}'

# name -> (kind, level, port); rampart admin listeners at port + 1
TARGETS = {
    "crs-pl1": ("crs", 1, 19101),
    "crs-pl2": ("crs", 2, 19102),
    "rampart-l1": ("rampart", 1, 19110),
    "rampart-l2": ("rampart", 2, 19112),
}
UPSTREAM_PORT = 19100


def log(msg: str):
    print(f"[score {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def first_existing(paths):
    for p in paths:
        if os.path.exists(p):
            return p
    return None


def missing_crs_tools() -> list[str]:
    missing = []
    if not shutil.which("nginx"):
        missing.append("nginx")
    if not os.path.exists(MODSEC_MODULE) or not first_existing(MODSEC_RECOMMENDED):
        missing.append("libnginx-mod-http-modsecurity")
    if not os.path.isdir(CRS_RULES) or not first_existing(CRS_SETUP):
        missing.append("modsecurity-crs")
    return missing


def apt_install(packages):
    """apt-get install, without letting the packages start their system services (the nginx
    package would start one on port 80): a policy-rc.d saying no is put in place for the
    install if the machine has none, and removed after."""
    log("apt-get update; apt-get install -y " + " ".join(packages))
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
    for p in packages:
        r = subprocess.run(["apt-cache", "show", p], capture_output=True)
        if r.returncode != 0:
            raise SystemExit(f"package {p} is not available from apt")
    policy = "/usr/sbin/policy-rc.d"
    created = False
    if not os.path.exists(policy):
        with open(policy, "w") as f:
            f.write("#!/bin/sh\n# bench/score.py: no service starts during its apt-get install\nexit 101\n")
        os.chmod(policy, 0o755)
        created = True
    try:
        subprocess.run(["apt-get", "install", "-y", "-q", *packages], check=True, env=env,
                       stdout=subprocess.DEVNULL)
    finally:
        if created:
            os.remove(policy)


def versions() -> dict:
    """Installed versions of the CRS stack (for the report)."""
    out = {}
    for pkg in ("nginx", "libnginx-mod-http-modsecurity", "libmodsecurity3", "modsecurity-crs"):
        r = subprocess.run(["dpkg-query", "-W", "-f", "${Version}", pkg], capture_output=True, text=True)
        if r.returncode == 0 and r.stdout:
            out[pkg] = r.stdout
    return out


def port_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


class Procs:
    """Processes started by this run; each in its own session (process group = its pid)."""

    def __init__(self):
        self.procs: list[tuple[str, subprocess.Popen]] = []

    def start(self, name: str, argv: list[str], port: int, logdir: str, timeout: float = 30.0):
        if port_open(port):
            raise RuntimeError(f"127.0.0.1:{port} is already in use (needed by {name})")
        out = open(os.path.join(logdir, f"{name}.stdout"), "wb")
        err = open(os.path.join(logdir, f"{name}.stderr"), "wb")
        p = subprocess.Popen(argv, stdout=out, stderr=err, stdin=subprocess.DEVNULL, start_new_session=True)
        out.close()
        err.close()
        self.procs.append((name, p))
        deadline = time.time() + timeout
        while time.time() < deadline:
            if port_open(port):
                return p
            if p.poll() is not None:
                raise RuntimeError(f"{name} exited at start ({p.returncode}): " + tail(os.path.join(logdir, f"{name}.stderr")))
            time.sleep(0.1)
        raise RuntimeError(f"{name} did not listen on 127.0.0.1:{port} within {timeout:.0f}s")

    def stop(self, name: str):
        for n, p in list(self.procs):
            if n == name:
                self._stop(p)
                self.procs.remove((n, p))

    @staticmethod
    def _stop(p: subprocess.Popen):
        if p.poll() is not None:
            return
        try:
            os.killpg(p.pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        try:
            p.wait(timeout=8)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            p.wait(timeout=5)

    def stop_all(self):
        while self.procs:
            _, p = self.procs.pop()
            try:
                self._stop(p)
            except Exception as e:  # noqa: BLE001 - keep stopping the others
                log(f"could not stop pid {p.pid}: {e}")


def tail(path: str, n: int = 8) -> str:
    try:
        with open(path, "rb") as f:
            return " | ".join(f.read().decode("utf-8", "replace").strip().splitlines()[-n:])
    except OSError:
        return ""


# ------------------------------------------------------------------ nginx ---------------

def _nginx_common(d: str, name: str, modsec: bool) -> str:
    head = f"load_module {MODSEC_MODULE};\n" if modsec else ""
    return head + f"""worker_processes 1;
daemon off;
master_process on;
pid {d}/nginx.pid;
error_log {d}/error.log error;
events {{ worker_connections 4096; }}
http {{
    client_body_temp_path {d}/tmp/body;
    proxy_temp_path {d}/tmp/proxy;
    fastcgi_temp_path {d}/tmp/fastcgi;
    uwsgi_temp_path {d}/tmp/uwsgi;
    scgi_temp_path {d}/tmp/scgi;
    access_log off;
    keepalive_requests 1000000;
    keepalive_timeout 60s;
"""


def write_upstream(out: str) -> list[str]:
    d = os.path.join(out, "upstream")
    os.makedirs(os.path.join(d, "tmp"), exist_ok=True)
    conf = os.path.join(d, "nginx.conf")
    with open(conf, "w") as f:
        f.write(_nginx_common(d, "upstream", False) + f"""    # Accept whatever a proxy in front forwards: big heads and bodies, odd header names.
    client_max_body_size 16m;
    client_header_buffer_size 64k;
    large_client_header_buffers 16 256k;
    underscores_in_headers on;
    server {{
        listen 127.0.0.1:{UPSTREAM_PORT};
        location / {{
            default_type application/json;
            add_header X-Upstream 1 always;
            return 200 '{UPSTREAM_BODY}';
        }}
    }}
}}
""")
    return ["nginx", "-p", d + "/", "-e", os.path.join(d, "error.log"), "-c", conf]


def write_crs(out: str, name: str, level: int, port: int) -> list[str]:
    d = os.path.join(out, name)
    os.makedirs(os.path.join(d, "tmp"), exist_ok=True)
    os.chmod(os.path.join(d, "tmp"), 0o1777)  # SecTmpDir/SecDataDir: written by the workers
    # libmodsecurity's recommended config, blocking, with its paths moved into the out dir.
    src = first_existing(MODSEC_RECOMMENDED)
    with open(src) as f:
        text = f.read()
    mapping = first_existing(UNICODE_MAPPING + [os.path.join(os.path.dirname(src), "unicode.mapping")])
    subs = [
        (r"(?m)^SecRuleEngine .*$", "SecRuleEngine On"),
        (r"(?m)^SecRequestBodyAccess .*$", "SecRequestBodyAccess On"),
        (r"(?m)^SecAuditEngine .*$", "SecAuditEngine Off"),
        (r"(?m)^SecAuditLog .*$", f"SecAuditLog {d}/modsec_audit.log"),
        (r"(?m)^SecTmpDir .*$", f"SecTmpDir {d}/tmp/"),
        (r"(?m)^SecDataDir .*$", f"SecDataDir {d}/tmp/"),
        (r"(?m)^SecStatusEngine .*$", "SecStatusEngine Off"),
        (r"(?m)^SecUnicodeMapFile (\S+)", f"SecUnicodeMapFile {mapping}"),
    ]
    for pat, rep in subs:
        text, n = re.subn(pat, rep, text)
        if n == 0 and "Unicode" not in pat and "Status" not in pat:
            text += "\n" + rep + "\n"
    if "ctl:requestBodyProcessor=JSON" not in text:
        raise RuntimeError(f"{src} has no JSON body processor rule")
    with open(os.path.join(d, "modsecurity.conf"), "w") as f:
        f.write(f"# From {src}: SecRuleEngine On; audit log off; paths in {d}\n" + text)

    setup_src = first_existing(CRS_SETUP)
    with open(setup_src) as f:
        setup = f.read()
    for rid in ("900000", "900001", "900110"):
        if re.search(rf'(?m)^[^#\n]*id:{rid}\b', setup):
            raise RuntimeError(f"{setup_src} already sets rule {rid} (uncommented); edit the harness")
    setup += f"""
# ---- set by bench/score.py ----
SecAction "id:900000,phase:1,nolog,pass,t:none,setvar:tx.paranoia_level={level}"
SecAction "id:900001,phase:1,nolog,pass,t:none,setvar:tx.executing_paranoia_level={level}"
SecAction "id:900110,phase:1,nolog,pass,t:none,setvar:tx.inbound_anomaly_score_threshold=5,setvar:tx.outbound_anomaly_score_threshold=4"
"""
    with open(os.path.join(d, "crs-setup.conf"), "w") as f:
        f.write(f"# From {setup_src}\n" + setup)
    # As Debian's owasp-crs.load, except that libmodsecurity 3.0 has no IncludeOptional.
    lines = [f"Include {d}/modsecurity.conf", f"Include {d}/crs-setup.conf"]
    before = os.path.join(CRS_ETC, "REQUEST-900-EXCLUSION-RULES-BEFORE-CRS.conf")
    after = os.path.join(CRS_ETC, "RESPONSE-999-EXCLUSION-RULES-AFTER-CRS.conf")
    lines += [f"Include {before}"] if os.path.exists(before) else []
    lines += [f"Include {CRS_RULES}/*.conf"]
    lines += [f"Include {after}"] if os.path.exists(after) else []
    with open(os.path.join(d, "modsec-main.conf"), "w") as f:
        f.write("\n".join(lines) + "\n")
    conf = os.path.join(d, "nginx.conf")
    with open(conf, "w") as f:
        f.write(_nginx_common(d, name, True) + f"""    modsecurity on;
    modsecurity_rules_file {d}/modsec-main.conf;
    upstream echo {{
        server 127.0.0.1:{UPSTREAM_PORT};
        keepalive 32;
    }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://echo;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }}
    }}
}}
""")
    return ["nginx", "-p", d + "/", "-e", os.path.join(d, "error.log"), "-c", conf]


def nginx_check(argv: list[str]) -> tuple[bool, str]:
    r = subprocess.run(argv[:-2] + ["-t", "-q"] + argv[-2:], capture_output=True, text=True)
    return r.returncode == 0, (r.stdout + r.stderr).strip()


# ------------------------------------------------------------------ rampart -------------

def rampart_master_key(out: str, binary: str) -> str:
    """`rampart init DIR` writes a config, a dev certificate and DIR/data/master.key."""
    d = os.path.join(out, "rampart-init")
    shutil.rmtree(d, ignore_errors=True)
    r = subprocess.run([binary, "init", d], capture_output=True, text=True)
    key = os.path.join(d, "data", "master.key")
    if r.returncode != 0 or not os.path.exists(key):
        raise RuntimeError(f"rampart init failed: {(r.stdout + r.stderr).strip()}")
    return key


def write_rampart(out: str, name: str, level: int, port: int, master_key: str) -> str:
    d = os.path.join(out, name)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    conf = os.path.join(d, "rampart.toml")
    with open(conf, "w") as f:
        f.write(f"""# written by bench/score.py
[server]
listen = "127.0.0.1:{port}"
max_body_bytes = 1048576

[admin]
listen = "127.0.0.1:{port + 1}"

[log]
access = "{d}/access.log"
level = "warn"

[store]
path = "{d}/rampart.db"
master_key_file = "{master_key}"

[abuse]
enabled = false

[[upstreams]]
name = "echo"
url = "http://127.0.0.1:{UPSTREAM_PORT}"

[[routes]]
name = "all"
path = "/{{*rest}}"
upstream = "echo"
auth = ["none"]
injection = {{ mode = "block", level = {level} }}

[[routes]]
name = "root"
path = "/"
upstream = "echo"
auth = ["none"]
injection = {{ mode = "block", level = {level} }}
""")
    return conf


def rampart_check(binary: str, conf: str) -> tuple[bool, str]:
    r = subprocess.run([binary, "check", "--config", conf], capture_output=True, text=True)
    return r.returncode == 0, (r.stdout + r.stderr).strip()


def rampart_argv(binary: str, conf: str) -> list[str]:
    return [binary, "run", "--config", conf]


def clean_target_dirs(out: str):
    for name in list(TARGETS) + ["upstream", "rampart-init"]:
        shutil.rmtree(os.path.join(out, name), ignore_errors=True)
    for pattern in ("*-missed.txt", "*-fp.txt", "summary.md", "results.json", "logs"):
        for p in glob.glob(os.path.join(out, pattern)):
            if os.path.isdir(p):
                shutil.rmtree(p, ignore_errors=True)
            else:
                os.remove(p)
