"""A real nginx in front of two nodes: WebSocket upgrade, balancing, client address."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from tests.client import Client
from tests.conftest import free_port
from tests.ops_support import assert_everyone_hears, log_lines

pytestmark = pytest.mark.asyncio
NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx")
                                  else None)

CONF = """
daemon off;
worker_processes 1;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log warn;
{user}
events {{ worker_connections 256; }}
http {{
    access_log off;
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    map $http_upgrade $connection_upgrade {{ default upgrade; '' close; }}
    upstream peerchat {{
        server 127.0.0.1:{a};
        server 127.0.0.1:{b};
    }}
    server {{
        listen 127.0.0.1:{port};
        location /ws {{
            proxy_pass http://peerchat;
            proxy_http_version 1.1;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection $connection_upgrade;
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header Forwarded "";
            proxy_read_timeout 75s;
            proxy_send_timeout 75s;
            proxy_buffering off;
        }}
        location / {{
            proxy_pass http://peerchat;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header Forwarded "";
        }}
    }}
}}
"""


@pytest.fixture
def nginx_in_front(start_node, tmp_path: Path):
    if NGINX is None:
        pytest.skip("nginx is not installed (scripts/setup-test-deps installs it)")
    a = start_node(server_trusted_proxies="127.0.0.1/32")
    b = start_node(server_trusted_proxies="127.0.0.1/32")
    port = free_port()
    ndir = tmp_path / "nginx"
    ndir.mkdir()
    user = "user root;" if os.geteuid() == 0 else ""
    conf = ndir / "nginx.conf"
    conf.write_text(CONF.format(tmp=ndir, a=a.port, b=b.port, port=port, user=user))
    proc = subprocess.Popen([NGINX, "-p", str(ndir), "-c", str(conf), "-e",
                             str(ndir / "error.log")],
                            stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError((ndir / "error.log").read_text())
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                break
        except OSError:
            time.sleep(0.05)
    yield port, a, b
    proc.terminate()
    proc.wait(10)


async def test_chat_through_nginx(nginx_in_front) -> None:
    port, a, b = nginx_in_front
    assert httpx.get(f"http://127.0.0.1:{port}/readyz").status_code == 200
    url = f"ws://127.0.0.1:{port}/ws"
    # a client claiming an address itself gets the proxy-appended hop, not its claim
    clients = [await Client.connect(url, guest=f"px{i}",
                                    additional_headers={"X-Forwarded-For": "203.0.113.9"})
               for i in range(4)]
    await assert_everyone_hears(clients, "through the proxy")
    a.stop()
    b.stop()
    hellos = [line for node in (a, b) for line in log_lines(node.log())
              if line["event"] == "hello"]
    assert len(hellos) == 4
    # round robin: both nodes served someone, so the chat crossed nodes via Redis
    assert all(any(line["event"] == "hello" for line in log_lines(n.log())) for n in (a, b))
    # nginx appended the real peer (127.0.0.1, trusted), so the client's own
    # header value is the first untrusted hop: what a real client behind a
    # forwarding proxy would get. An untrusted peer's header is ignored
    # (tests/test_ops_units.py covers the spoofing cases).
    assert {line["addr"] for line in hellos} == {"203.0.113.9"}
