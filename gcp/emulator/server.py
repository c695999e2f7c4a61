"""One plaintext gRPC port serving every emulated Google service."""

from __future__ import annotations

from concurrent import futures

import grpc

from gcp.emulator import index_logs
from gcp.emulator.audit import AuditTrail
from gcp.emulator.change_seed import seed_changes
from gcp.emulator.cloud_run import CloudRun
from gcp.emulator.core import Faults
from gcp.emulator.firestore_admin import FirestoreAdmin
from gcp.emulator.logs import Logs
from gcp.emulator.monitoring import Monitoring
from gcp.emulator.secret_manager import SecretManager
from gcp.emulator.storage import Storage

SEEDS = ("fluxori", "empty")


class Emulator:
    """All emulated services with their state; tests and the sandbox read it directly."""

    def __init__(self, seed: str = "fluxori") -> None:
        if seed not in SEEDS:
            raise ValueError(f"unknown seed {seed!r}; choose one of {', '.join(SEEDS)}")
        self.faults = Faults()
        self.run = CloudRun()
        self.logs = Logs()
        self.secrets = SecretManager()
        self.monitoring = Monitoring(self.run)
        self.storage = Storage()  # Cloud Storage's JSON API, on its own HTTP port
        self.firestore_admin = FirestoreAdmin(self.storage)
        self.firestore_admin.other_operations = self.run.get_operation  # one Operations API
        self.audit = AuditTrail(self.logs)
        self._server: grpc.Server | None = None
        self.port = 0
        if seed == "fluxori":
            self.run.seed_fluxori()
            self.logs.seed_fluxori(revisions=self.run.revision_names())
            self.secrets.seed_fluxori()
            self.monitoring.seed_fluxori()
            self.firestore_admin.seed_fluxori()
            index_logs.seed_fluxori(self.logs, self.run.revision_names())
            seed_changes(self.run, self.monitoring, self.audit)
        self.run.audit = self.secrets.audit = self.audit  # changes from now on are audited

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self, port: int = 0, host: str = "127.0.0.1") -> int:
        server = grpc.server(futures.ThreadPoolExecutor(max_workers=16))
        for part in (self.firestore_admin, self.run, self.logs, self.secrets, self.monitoring):
            server.add_generic_rpc_handlers(tuple(part.handlers(self.faults)))
        self.port = server.add_insecure_port(f"{host}:{port}")
        server.start()
        self._server = server
        self.storage.start(host=host)
        return self.port

    @property
    def storage_url(self) -> str:
        """For STORAGE_EMULATOR_HOST: the Cloud Storage JSON API's base URL."""
        return self.storage.url

    def stop(self, grace: float | None = 0.5) -> None:
        self.storage.stop()
        if self._server is not None:
            self._server.stop(grace).wait()
            self._server = None
