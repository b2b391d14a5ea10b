"""Hostile receiver URLs (SSRF), shared by the config-validation unit tests and the delivery
integration test: every one must be refused at `config validate` *and* by the HTTP client."""

from __future__ import annotations


def hostile_urls(port: int) -> list[str]:
    """URLs a webhook receiver must never reach without ``allow_private`` (and the metadata ones
    never at all); ``port`` is where the integration test listens to count connections."""
    p = port
    return [
        f"http://127.0.0.1:{p}/",
        f"http://localhost:{p}/",
        f"http://LOCALHOST:{p}/",
        f"http://127.0.0.1.:{p}/",
        f"http://2130706433:{p}/",
        f"http://0177.0.0.1:{p}/",
        f"http://0x7f.0.0.1:{p}/",
        f"http://0x7f000001:{p}/",
        f"http://017700000001:{p}/",
        f"http://127.1:{p}/",
        f"http://127.0.1:{p}/",
        f"http://127.000.000.001:{p}/",
        f"http://0x7f.0x0.0x0.0x1:{p}/",
        f"https://127.0.0.1:{p}/",
        f"http://[::1]:{p}/",
        f"http://[0:0:0:0:0:0:0:1]:{p}/",
        f"http://[::ffff:127.0.0.1]:{p}/",
        f"http://[::ffff:7f00:1]:{p}/",
        f"http://[0:0:0:0:0:ffff:127.0.0.1]:{p}/",
        f"http://0.0.0.0:{p}/",
        f"http://0:{p}/",
        f"http://[::]:{p}/",
        "http://169.254.169.254/latest/meta-data/iam/security-credentials/",
        "http://[::ffff:169.254.169.254]/latest/meta-data/",
        "http://[fd00:ec2::254]/latest/meta-data/",
        "http://100.100.100.200/latest/meta-data/",
        "http://2852039166/latest/meta-data/",  # 169.254.169.254 in decimal
        f"http://10.0.0.1:{p}/",
        f"http://172.16.0.1:{p}/",
        f"http://192.168.1.1:{p}/",
        f"http://100.64.0.1:{p}/",
        f"http://[fe80::1]:{p}/",
        f"http://[fc00::1]:{p}/",
        f"http://[64:ff9b::7f00:1]:{p}/",
        f"http://[2002:7f00:1::]:{p}/",
        f"http://224.0.0.1:{p}/",
        f"http://255.255.255.255:{p}/",
        "http://user:pass@example.com/",
        # names that are never a public receiver: loopback names and cloud metadata services
        f"http://app.localhost:{p}/",
        "http://metadata.google.internal/computeMetadata/v1/",
        "http://METADATA.GOOGLE.INTERNAL./computeMetadata/v1/",
        "http://metadata.goog/computeMetadata/v1/",
        "http://instance-data.ec2.internal/latest/meta-data/",
    ]


#: Hostile URLs that stay refused even with ``allow_private: true``: metadata, unspecified,
#: multicast, broadcast/reserved, NAT64/6to4 and credentials in the URL.
ALWAYS_REFUSED = {
    "http://169.254.169.254/latest/meta-data/iam/security-credentials/",
    "http://[::ffff:169.254.169.254]/latest/meta-data/",
    "http://[fd00:ec2::254]/latest/meta-data/",
    "http://100.100.100.200/latest/meta-data/",
    "http://2852039166/latest/meta-data/",
    "http://user:pass@example.com/",
    "http://metadata.google.internal/computeMetadata/v1/",
    "http://METADATA.GOOGLE.INTERNAL./computeMetadata/v1/",
    "http://metadata.goog/computeMetadata/v1/",
    "http://instance-data.ec2.internal/latest/meta-data/",
}


def always_refused(port: int) -> set[str]:
    """:data:`ALWAYS_REFUSED` plus the port-bearing ones (unspecified, multicast, broadcast, NAT64, 6to4)."""
    p = port
    return ALWAYS_REFUSED | {
        f"http://0.0.0.0:{p}/",
        f"http://0:{p}/",
        f"http://[::]:{p}/",
        f"http://224.0.0.1:{p}/",
        f"http://255.255.255.255:{p}/",
        f"http://[64:ff9b::7f00:1]:{p}/",
        f"http://[2002:7f00:1::]:{p}/",
    }
