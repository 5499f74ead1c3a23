"""How a run reads its file (column mapping, row defaults): kept with the run, in memory and in the
store, so rows edited after the run, or after a restart, are validated exactly as the run did."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from commbox_core.tickets.request import RowDefaults


@dataclass(frozen=True)
class RunPlan:
    mapping: dict[str, str] = field(default_factory=dict)  # field -> column of the InputTable
    defaults: RowDefaults = field(default_factory=RowDefaults)

    def record(self) -> dict:
        """As the store keeps it (JSON)."""
        return {"mapping": dict(self.mapping), "defaults": asdict(self.defaults)}

    @classmethod
    def from_record(cls, record: dict | None) -> RunPlan | None:
        if not record:
            return None
        return cls(dict(record.get("mapping") or {}), RowDefaults(**(record.get("defaults") or {})))
