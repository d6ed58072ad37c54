"""FAQ and OPD files (faq.loader): parsing, and every problem reported as FILE:LINE: reason."""

from __future__ import annotations

from pathlib import Path

import pytest

from faq.loader import (
    ImportRejected,
    load_faq_files,
    load_opd_file,
    parse_faq_file,
    split_list,
)
from faq.model import FaqEntry

KNOWN = {"BAPENDA", "DISHUB", "DINSOS"}
HEADER = "id,opd,question,answer,variants,keywords\n"


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def problems_of(paths: list[Path], known: set[str] = KNOWN) -> list[str]:
    with pytest.raises(ImportRejected) as raised:
        load_faq_files(paths, known)
    return [str(p) for p in raised.value.problems]


def test_split_list_trims_and_drops_empty_items() -> None:
    assert split_list(" a | b ||  c |") == ("a", "b", "c")
    assert split_list("") == ()
    assert split_list(None) == ()


def test_csv_rows_become_entries_with_pipe_separated_lists(tmp_path: Path) -> None:
    path = write(tmp_path / "faq.csv", HEADER
                 + 'bapenda-001,bapenda,Bagaimana bayar PKB?,"Di Samsat, atau e-Samsat.",'
                   "Bayar pajak motor online? | Pajak mobil di mana?,PKB | pajak kendaraan\n"
                 + "dishub-001,DISHUB,Jadwal bus?,Lihat aplikasi.,,\n")
    entries = load_faq_files([path], KNOWN)
    assert entries == [
        FaqEntry("bapenda-001", "BAPENDA", "Bagaimana bayar PKB?", "Di Samsat, atau e-Samsat.",
                 ("Bayar pajak motor online?", "Pajak mobil di mana?"),
                 ("PKB", "pajak kendaraan")),
        FaqEntry("dishub-001", "DISHUB", "Jadwal bus?", "Lihat aplikasi.", (), ()),
    ]


def test_csv_header_may_be_in_any_order_and_case_with_a_bom(tmp_path: Path) -> None:
    path = tmp_path / "faq.csv"
    path.write_bytes("\ufeffOPD,ID,Question,Answer,Keywords,Variants\n"
                     "DINSOS,dinsos-1,Syarat bansos?,Datang ke kantor.,bansos,\n".encode())
    [entry] = load_faq_files([path], KNOWN)
    assert (entry.id, entry.opd, entry.keywords) == ("dinsos-1", "DINSOS", ("bansos",))


def test_blank_csv_lines_are_skipped(tmp_path: Path) -> None:
    path = write(tmp_path / "faq.csv", HEADER + "\n" + "a-1,DISHUB,Q?,A.,,\n" + ",,,,,\n")
    assert [e.id for e in load_faq_files([path], KNOWN)] == ["a-1"]


def test_yaml_list_of_entries_is_read_with_lists_or_pipes(tmp_path: Path) -> None:
    path = write(tmp_path / "faq.yaml", """\
- id: dishub-010
  opd: dishub
  question: Di mana terminal bus AKDP?
  answer: Terminal Tipe B Kota Contoh.
  variants: ["Terminal bus antarkota di mana?", "Lokasi terminal?"]
  keywords: terminal | AKDP
- id: dinsos-010
  opd: DINSOS
  question: Bagaimana mendaftar bantuan sosial?
  answer: |
    Daftar melalui kelurahan.
    Bawa KTP dan KK.
""")
    first, second = load_faq_files([path], KNOWN)
    assert first == FaqEntry("dishub-010", "DISHUB", "Di mana terminal bus AKDP?",
                             "Terminal Tipe B Kota Contoh.",
                             ("Terminal bus antarkota di mana?", "Lokasi terminal?"),
                             ("terminal", "AKDP"))
    assert second.answer == "Daftar melalui kelurahan.\nBawa KTP dan KK."
    assert (second.variants, second.keywords) == ((), ())


def test_yaml_may_wrap_the_list_in_a_faq_key(tmp_path: Path) -> None:
    path = write(tmp_path / "faq.yml", "faq:\n  - {id: a-1, opd: BAPENDA, question: 'Q?', "
                                       "answer: A.}\n")
    assert [e.id for e in load_faq_files([path], KNOWN)] == ["a-1"]


def test_unknown_opd_is_reported_at_its_line(tmp_path: Path) -> None:
    path = write(tmp_path / "faq.csv", HEADER + "a-1,DISHUB,Q?,A.,,\n" + "a-2,DISPAR,Q?,A.,,\n")
    assert problems_of([path]) == [f"{path}:3: unknown OPD 'DISPAR'"]


def test_empty_question_is_reported_at_its_line(tmp_path: Path) -> None:
    path = write(tmp_path / "faq.csv", HEADER + "a-1,DISHUB,Q?,A.,,\n" + "a-2,DISHUB,  ,A.,,\n")
    assert problems_of([path]) == [f"{path}:3: empty question"]


def test_duplicate_id_is_reported_at_the_second_line_naming_the_first(tmp_path: Path) -> None:
    path = write(tmp_path / "faq.csv",
                 HEADER + "a-1,DISHUB,Q?,A.,,\n" + "a-2,DISHUB,Q?,A.,,\n" + "a-1,DINSOS,Q?,A.,,\n")
    assert problems_of([path]) == [
        f"{path}:4: duplicate id 'a-1' (first at {path}:2)"]


def test_duplicate_id_across_two_files_is_reported(tmp_path: Path) -> None:
    csv_file = write(tmp_path / "a.csv", HEADER + "x-1,DISHUB,Q?,A.,,\n")
    yaml_file = write(tmp_path / "b.yaml",
                      "- {id: y-1, opd: DINSOS, question: 'Q?', answer: A.}\n"
                      "- {id: x-1, opd: DINSOS, question: 'Q?', answer: A.}\n")
    assert problems_of([csv_file, yaml_file]) == [
        f"{yaml_file}:2: duplicate id 'x-1' (first at {csv_file}:2)"]


def test_missing_column_is_reported_on_the_header_line(tmp_path: Path) -> None:
    path = write(tmp_path / "faq.csv", "id,opd,question,answer,variants\na-1,DISHUB,Q?,A.,\n")
    [problem] = problems_of([path])
    assert problem.startswith(f"{path}:1: missing column(s) keywords")


def test_unknown_column_is_reported_on_the_header_line(tmp_path: Path) -> None:
    path = write(tmp_path / "faq.csv", HEADER.strip() + ",notes\na-1,DISHUB,Q?,A.,,,x\n")
    assert problems_of([path]) == [f"{path}:1: unknown column(s) notes"]


def test_wrong_number_of_fields_is_reported_at_its_line(tmp_path: Path) -> None:
    path = write(tmp_path / "faq.csv", HEADER + "a-1,DISHUB,Q?,A.,,\n" + "a-2,DISHUB,Q?\n")
    assert problems_of([path]) == [f"{path}:3: expected 6 fields, found 3"]


def test_invalid_id_is_reported(tmp_path: Path) -> None:
    path = write(tmp_path / "faq.csv", HEADER + "bad id!,DISHUB,Q?,A.,,\n")
    assert problems_of([path]) == [f"{path}:2: invalid id 'bad id!'"]


def test_bad_utf8_is_reported_at_the_line_of_the_bad_byte(tmp_path: Path) -> None:
    path = tmp_path / "faq.csv"
    path.write_bytes(HEADER.encode() + b"a-1,DISHUB,Q?,A.,,\n"
                     + "a-2,DISHUB,Caf\u00e9?,A.,,\n".encode("latin-1"))
    assert problems_of([path]) == [
        f"{path}:3: file is not valid UTF-8 (bad byte at this line)"]


def test_malformed_yaml_is_reported_at_its_line(tmp_path: Path) -> None:
    path = write(tmp_path / "faq.yaml", "- id: a-1\n  opd: DISHUB\n  question: [Q?\n"
                                        "  answer: A.\n- id: a-2\n")
    [problem] = problems_of([path])
    assert problem.startswith(f"{path}:")
    line = int(problem.removeprefix(f"{path}:").split(":")[0])
    assert 3 <= line <= 5
    assert "malformed YAML" in problem


def test_yaml_entry_that_is_not_a_mapping_is_reported_at_its_line(tmp_path: Path) -> None:
    path = write(tmp_path / "faq.yaml", "- {id: a-1, opd: DISHUB, question: 'Q?', answer: A.}\n"
                                        "- just a string\n")
    assert problems_of([path]) == [f"{path}:2: each FAQ entry must be a mapping"]


def test_yaml_unknown_field_is_reported_at_its_entry(tmp_path: Path) -> None:
    path = write(tmp_path / "faq.yaml", "- id: a-1\n  opd: DISHUB\n  question: Q?\n"
                                        "  answer: A.\n- id: a-2\n  opd: DISHUB\n"
                                        "  question: Q?\n  answr: A.\n")
    assert problems_of([path]) == [f"{path}:5: unknown field(s) answr"]


def test_every_problem_of_an_import_is_listed_together(tmp_path: Path) -> None:
    first = write(tmp_path / "a.csv", HEADER + "a-1,NOPE,Q?,A.,,\n" + "a-2,DISHUB,,A.,,\n")
    second = write(tmp_path / "b.csv", HEADER + "a-1,DISHUB,Q?,,,\n")
    assert problems_of([first, second]) == [
        f"{first}:3: empty question",
        f"{second}:2: empty answer",
        f"{first}:2: unknown OPD 'NOPE'",
    ]


def test_an_empty_csv_file_is_reported(tmp_path: Path) -> None:
    path = write(tmp_path / "faq.csv", "")
    assert problems_of([path]) == [f"{path}:1: file is empty (expected a header row)"]


def test_an_unsupported_extension_is_reported(tmp_path: Path) -> None:
    path = write(tmp_path / "faq.txt", "x")
    items, problems = parse_faq_file(path)
    assert items == []
    assert [p.reason for p in problems] == [
        "unsupported file type (use .csv, .yaml, .yml or .toml)"]


def test_a_multi_line_csv_record_is_reported_at_its_first_line(tmp_path: Path) -> None:
    path = write(tmp_path / "faq.csv", HEADER + 'a-1,DISHUB,,"baris satu\nbaris dua\n'
                                                'baris tiga",,\n')
    assert problems_of([path]) == [f"{path}:2: empty question"]


def test_opd_file_tables_become_profiles(tmp_path: Path) -> None:
    path = write(tmp_path / "opd.toml", """\
[[opd]]
code = "BAPENDA"
name = "Badan Pendapatan Daerah"
description = "Pajak kendaraan."
keywords = ["pajak", "samsat"]

[[opd]]
code = "DISHUB"
name = "Dinas Perhubungan"
keywords = "terminal | rambu"
""")
    bapenda, dishub = load_opd_file(path)
    assert (bapenda.code, bapenda.name, bapenda.keywords) == (
        "BAPENDA", "Badan Pendapatan Daerah", ("pajak", "samsat"))
    assert (dishub.description, dishub.keywords) == ("", ("terminal", "rambu"))


def test_opd_file_problems_name_the_table_line(tmp_path: Path) -> None:
    path = write(tmp_path / "opd.toml", '[[opd]]\ncode = "BAPENDA"\nname = "B"\n\n'
                                        '[[opd]]\ncode = "dishub"\nname = "D"\n\n'
                                        '[[opd]]\ncode = "BAPENDA"\nname = "B2"\n')
    with pytest.raises(ImportRejected) as raised:
        load_opd_file(path)
    assert [str(p) for p in raised.value.problems] == [
        f"{path}:5: invalid or missing OPD code 'dishub'",
        f"{path}:9: duplicate OPD code 'BAPENDA'",
    ]


def test_malformed_opd_toml_is_reported_at_its_line(tmp_path: Path) -> None:
    path = write(tmp_path / "opd.toml", '[[opd]]\ncode = "BAPENDA"\nname = "B\n')
    with pytest.raises(ImportRejected) as raised:
        load_opd_file(path)
    [problem] = raised.value.problems
    assert (problem.line, problem.reason.startswith("malformed TOML")) == (3, True)


SHARED = Path("/work/shared/faq-eval")


@pytest.mark.skipif(not (SHARED / "faq.csv").exists(), reason="shared evaluation data absent")
def test_the_shared_evaluation_files_load_cleanly() -> None:
    opds = load_opd_file(SHARED / "opd.toml")
    entries = load_faq_files([SHARED / "faq.csv"], {o.code for o in opds})
    assert len(opds) == 14
    assert len(entries) == 156
    assert len({e.id for e in entries}) == 156
