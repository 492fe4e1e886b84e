"""experiments/report.py: the RESULTS.md section and the plots, from a summary of known results."""
from PIL import Image

from experiments import analysis, report

from .test_experiment_stats import fake_results

SWEEP = {"seed": 0, "lrs": [0.05, 0.1], "criterion": "mean val top-1", "static_config": "w0.50-c32-t8",
         "methods": {m: {"scores": {"0.05": 40.0, "0.1": 55.5}, "chosen": 0.1} for m in ("mutualnet", "sandwich", "static")},
         "lr_of_method": {"mutualnet": 0.1, "mutualnet_wc": 0.1, "mutualnet_wt": 0.1, "sandwich": 0.1, "static": 0.1}}


def summary(results, methods):
    return {"command": "python experiments/reproduce_synthetic.py --seeds 0 1 2", "date": "2026-11-30T12:00:00+00:00",
            "machine": "test CPU", "out": "out", "base_config": "configs/demo/X3D_DEMO.yaml", "methods": methods,
            "seeds": sorted({r["seed"] for r in results}), "lrs": [0.05, 0.1], "epochs": 2, "views": 3, "data_dir": "data", "data": {"version": 3},
            "num_classes": 12, "num_test_videos": 4, "num_val_videos": 4, "sweep": SWEEP, "runs": results,
            "bootstrap": {"resamples": 10000, "level": 0.95, "seed": 0, "min_seeds": 5}, "calls_wall_s": 600.0, "driver_wall_s": 60.0,
            "elapsed_s": 360.0, "jobs": 2, "threads": 1,
            "invocations": [{"start": "2026-11-29T09:00:00+00:00", "outcome": "stopped", "machine": "other CPU",
                             "wall_s": 300.0, "jobs": 2, "threads": 1},
                            {"start": "2026-11-30T11:59:00+00:00", "outcome": "finished", "machine": "test CPU",
                             "wall_s": 60.0, "jobs": 2, "threads": 1}],
            "analysis": analysis.analyse(results, ["w0.50-c32-t8"] if "static" in methods else [])}


def test_section_has_protocol_verdicts_and_tables():
    text = report.render(summary(fake_results(), ["mutualnet", "mutualnet_wc", "mutualnet_wt", "sandwich", "static"]))
    assert text.startswith(report.SECTION_BEGIN) and text.rstrip().endswith(report.SECTION_END)
    assert "python experiments/reproduce_synthetic.py --seeds 0 1 2" in text
    assert "| MutualNet (width x crop x frames) | 40.0 | **55.5** | 0.1 |" in text  # the sweep, chosen in bold
    assert "static model trained alone, at the static model's config**: held at 0, failed at 1, undecided at 0 of 1" in text
    assert "  - w0.50-c32-t8: -1.0 [-1.0, -1.0] failed" in text
    assert "MutualNet - w x t" in text and "+5.0 [+5.0, +5.0] held" in text
    assert "(3) Training cost**: one MutualNet run took 4.00x the training GFLOPs" in text
    assert "The ablations use MutualNet's rate" in text
    assert ("6.0 min elapsed over 2 invocations of the driver (this one 1.0 min), 2 run_net calls at a time with "
            "1 torch thread each; the calls' wall times add up to 10.0 min") in text
    assert "- Machine: test CPU; every invocation's machine and time: the table in (3)" in text
    assert "| 2026-11-29T09:00:00+00:00 | stopped | 5.0 | 2 x 1 | other CPU |" in text
    assert "| mutualnet | w1.00-c32-t8 | 83.0 ± 1.6 | 0.500 ± 0.000 | 72.0 ± 1.6 | 11.0 ± 3.2 |" in text  # fit on training data


def test_every_table_has_as_many_separator_cells_as_header_cells():
    lines = report.render(summary(fake_results(), ["mutualnet", "mutualnet_wc", "mutualnet_wt", "sandwich", "static"])).splitlines()
    separators = [i for i, line in enumerate(lines) if line.startswith("|---")]
    assert len(separators) >= 6
    for i in separators:
        header, separator, first_row = (line.strip("|").split("|") for line in lines[i - 1:i + 2])
        assert len(separator) == len(header) == len(first_row), lines[i - 1]


def test_section_shows_where_the_errors_are_when_the_grids_saved_predictions():
    methods = ["mutualnet", "sandwich"]
    results = [r for r in fake_results() if r["method"] in methods]
    assert "Where the errors are" not in report.render(summary(results, methods))
    for r in results:
        r["test_factors"] = {"w1.00-c32-t8": {"object": 75.0, "direction": 100.0},
                             "w0.50-c32-t8": {"object": 62.0 + r["seed"], "direction": 99.5}}
    text = report.render(summary(results, methods))
    assert "### Where the errors are" in text
    assert "| mutualnet | w0.50-c32-t8 | 5 | 62.0 ± 1.6 | 64.0 ± 1.6 | 99.5 ± 0.0 |" in text


def test_sweep_table_shows_the_extended_rates_and_a_diverged_one():
    extended = {**SWEEP, "extend": 2, "methods": {
        "mutualnet": {"scores": {"0.05": 40.0, "0.1": 55.5}, "chosen": 0.1},
        "static": {"scores": {"0.05": 40.0, "0.1": 55.5, "0.2": 60.0, "0.4": None}, "chosen": 0.2}}}
    text = report.render({**summary(fake_results(), ["mutualnet", "static"]), "sweep": extended})
    assert "| method | LR 0.05 | LR 0.1 | LR 0.2 | LR 0.4 | chosen |" in text
    assert "| MutualNet (width x crop x frames) | 40.0 | **55.5** | - | - | 0.1 |" in text
    assert "| static (trained alone) | 40.0 | 55.5 | **60.0** | diverged | 0.2 |" in text
    assert "extended by the grid's step past an end while a method's best rate was there (at most 2 per end" in text
    assert "extended" not in report.render(summary(fake_results(), ["mutualnet", "static"]))


def test_section_with_fewer_seeds_than_the_protocol_says_so_and_decides_nothing():
    results = [r for r in fake_results() if r["seed"] < 3]
    text = report.render({**summary(results, ["mutualnet", "sandwich"]), "seeds": [0, 1, 2]})
    assert "Too few seeds for a verdict**: 3 seeds; a verdict needs at least 5" in text
    assert "held at 0, failed at 0, undecided at 2 of 2" in text  # +3 and +1 at every seed, still undecided
    assert "+3.0 [+3.0, +3.0] undecided" in text
    assert "Too few seeds" not in report.render(summary(fake_results(), ["mutualnet", "sandwich"]))


def test_section_of_a_subset_leaves_out_the_missing_methods():
    results = [r for r in fake_results() if r["method"] in ("mutualnet", "sandwich")]
    text = report.render(summary(results, ["mutualnet", "sandwich"]))
    assert "static" not in text.split("### Verdicts")[1].split("### (3)")[0]
    assert "MutualNet - sandwich" in text and "w x c" not in text and "Training cost**" not in text


def test_results_file_keeps_the_hand_written_part(tmp_path):
    path = tmp_path / "RESULTS.md"
    path.write_text("# Results\n\nHand-written notes.\n")
    report.write_results(str(path), report.SECTION_BEGIN + "\nfirst\n" + report.SECTION_END + "\n")
    report.write_results(str(path), report.SECTION_BEGIN + "\nsecond\n" + report.SECTION_END + "\n")
    text = path.read_text()
    assert text.startswith("# Results\n\nHand-written notes.") and text.count(report.SECTION_BEGIN) == 1
    assert "second" in text and "first" not in text


def test_val_epoch_plot_is_a_png(tmp_path):
    png = report.plot_val_epochs(summary(fake_results(), ["mutualnet"]), str(tmp_path / "out"), str(tmp_path / "docs"))
    assert png == str(tmp_path / "docs" / f"{report.VAL_PLOT}.png")
    with Image.open(png) as image:
        image.verify()
