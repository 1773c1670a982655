"""A user's own presets: saved, listed and deleted, always within that user's own."""

from __future__ import annotations

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from ..core.errors import InvalidParameter, NotFound
from ..core.limits import MAX_PRESETS
from .database import Database
from .models import OPTION_FIELDS, PRESET_FIELDS, presets
from .values import Record, id_value, now

_COLS = [presets.c[f] for f in PRESET_FIELDS]


class PresetQueries(Database):
    async def list_presets(self, user_id: str) -> list[Record]:
        async def run(conn: AsyncConnection) -> list[Record]:
            rows = await conn.execute(select(*_COLS).where(presets.c.user_id == user_id)
                                      .order_by(func.lower(presets.c.name), presets.c.id))
            return [dict(r._mapping) for r in rows]

        return await self.run(run, write=False)

    async def save_preset(self, user_id: str, preset_id: int | None, name: str, options: Record) -> Record:
        """Create (``preset_id`` None) or overwrite one of the user's presets; ``options`` checked by the caller."""
        values = {"name": name, **{k: options.get(k) for k in OPTION_FIELDS}, "updated_at": now()}

        async def run(conn: AsyncConnection) -> Record:
            if preset_id is None:
                count = (await conn.execute(select(func.count()).select_from(presets)
                                            .where(presets.c.user_id == user_id))).scalar_one()
                if count >= MAX_PRESETS:
                    raise InvalidParameter(f"You can keep at most {MAX_PRESETS} presets: delete one first")
                new_id = (await conn.execute(insert(presets).values(user_id=user_id, created_at=values["updated_at"],
                                                                    **values).returning(presets.c.id))).scalar_one()
            else:
                new_id = id_value(preset_id, "Preset")
                done = await conn.execute(update(presets).where(presets.c.id == new_id, presets.c.user_id == user_id)
                                          .values(**values))
                if done.rowcount == 0:
                    raise NotFound("Preset not found")
            return dict((await conn.execute(select(*_COLS).where(presets.c.id == new_id))).one()._mapping)

        return await self.run(run, write=True)

    async def delete_preset(self, user_id: str, preset_id: int) -> None:
        async def run(conn: AsyncConnection) -> None:
            done = await conn.execute(delete(presets).where(presets.c.id == id_value(preset_id, "Preset"),
                                                            presets.c.user_id == user_id))
            if done.rowcount == 0:
                raise NotFound("Preset not found")

        await self.run(run, write=True)
