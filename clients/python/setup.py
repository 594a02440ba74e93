"""sluice_client: the asyncio client for sluice's WebSocket protocol.

Install with `pip install ./clients/python` (no network needed). There is
deliberately no pyproject.toml: pip builds a project that has one in an
isolated environment and downloads setuptools into it from the index,
which fails offline; with setup.py alone pip uses the setuptools it finds
(Debian's python3-setuptools, or the one in the virtualenv)."""

from setuptools import setup

setup(
    name="sluice_client",
    version="1.0.0",
    description="asyncio client for sluice: submit, stream results, resume "
                "across dropped connections and dead gateways",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    license="MIT",
    packages=["sluice_client"],
    python_requires=">=3.9",
    install_requires=["websockets>=10.4"],
    extras_require={"msgpack": ["msgpack>=1.0"]},
)
