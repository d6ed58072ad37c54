"""Which OPD description wins at start-up (sync_opds): an imported one, else config.toml's."""

from __future__ import annotations

from typing import Any

from bot.services import PPID_UTAMA_DESCRIPTION, sync_opds
from routing.people import Opd
from tests.builders import BAPENDA_CHAT, BASE_CONFIG, DISHUB_CHAT, PPID_CHAT, build_config
from tests.service.conftest import Desk

IMPORTED = ("Memungut pajak daerah provinsi: Pajak Kendaraan Bermotor (PKB), BBNKB, pajak alat "
            "berat; layanan Samsat bersama Kepolisian dan Jasa Raharja.")


def configured_description(code: str) -> str:
    return next(o["description"] for o in BASE_CONFIG["opd"] if o["code"] == code)


def import_profile(desk: Desk, opd: Opd) -> None:
    """What ``sahut faq import opd.toml`` hands the helpdesk."""
    desk.run(desk.helpdesk.import_faq, [], [opd])


def restart(desk: Desk, opds: list[dict[str, Any]] | None = None) -> None:
    """A new process: build_services mirrors the (possibly edited) config into the database."""
    config = build_config(opd=opds) if opds is not None else desk.config
    with desk.uow() as uow:
        sync_opds(uow, config, desk.clock())
        uow.commit()


def stored(desk: Desk, code: str) -> Opd:
    with desk.uow() as uow:
        opd = uow.opds.get(code)
    assert opd is not None
    return opd


def test_an_imported_description_survives_the_next_start_while_config_name_and_queue_win(
        desk: Desk) -> None:
    import_profile(desk, Opd(code="BAPENDA", name="Bapenda (nama dari impor)",
                             description=IMPORTED, description_imported=True))
    restart(desk)
    restart(desk)
    bapenda = stored(desk, "BAPENDA")
    assert bapenda.description == IMPORTED
    assert bapenda.description_imported
    assert bapenda.name == "Badan Pendapatan Daerah"
    assert bapenda.queue_chat_id == BAPENDA_CHAT


def test_the_config_description_is_used_when_none_was_imported(desk: Desk) -> None:
    dishub = stored(desk, "DISHUB")
    assert dishub.description == configured_description("DISHUB")
    assert not dishub.description_imported
    assert dishub.queue_chat_id == DISHUB_CHAT


def test_a_config_edit_to_a_description_applies_only_where_none_was_imported(
        desk: Desk) -> None:
    import_profile(desk, Opd(code="BAPENDA", name="Badan Pendapatan Daerah",
                             description=IMPORTED, description_imported=True))
    edited = [dict(o, description=f"{o['description']} (diubah)") for o in BASE_CONFIG["opd"]]
    restart(desk, opds=edited)
    assert stored(desk, "BAPENDA").description == IMPORTED
    dishub = stored(desk, "DISHUB")
    assert dishub.description == f"{configured_description('DISHUB')} (diubah)"
    assert not dishub.description_imported


def test_a_later_import_replaces_an_imported_description(desk: Desk) -> None:
    import_profile(desk, Opd(code="BAPENDA", name="Badan Pendapatan Daerah",
                             description=IMPORTED, description_imported=True))
    import_profile(desk, Opd(code="BAPENDA", name="Badan Pendapatan Daerah",
                             description="Deskripsi impor kedua.", description_imported=True))
    restart(desk)
    assert stored(desk, "BAPENDA").description == "Deskripsi impor kedua."


def test_an_imported_ppid_utama_description_survives_while_config_keeps_its_queue(
        desk: Desk) -> None:
    assert stored(desk, "PPID").description == PPID_UTAMA_DESCRIPTION
    import_profile(desk, Opd(code="PPID", name="PPID", description="Meja triase provinsi.",
                             description_imported=True))
    restart(desk)
    ppid = stored(desk, "PPID")
    assert (ppid.description, ppid.description_imported) == ("Meja triase provinsi.", True)
    assert (ppid.name, ppid.queue_chat_id, ppid.is_ppid_utama) == ("PPID Utama", PPID_CHAT, True)


def test_a_start_with_an_unchanged_config_writes_nothing(desk: Desk) -> None:
    restart(desk)
    writes: list[str] = []
    with desk.uow() as uow:
        original = uow.opds.upsert

        def counting(opd: Opd, at: Any) -> None:
            writes.append(opd.code)
            original(opd, at)

        uow.opds.upsert = counting  # type: ignore[method-assign]
        sync_opds(uow, desk.config, desk.clock())
        uow.commit()
    assert writes == []  # running bots see no change, so they keep their FAQ index


def test_keywords_imported_for_an_opd_stay_when_the_config_names_none(desk: Desk) -> None:
    restart(desk)
    import_profile(desk, Opd(code="BAPENDA", name="x", description=IMPORTED,
                             keywords=("samsat", "pkb"), description_imported=True))
    restart(desk)
    assert stored(desk, "BAPENDA").keywords == ("samsat", "pkb")
