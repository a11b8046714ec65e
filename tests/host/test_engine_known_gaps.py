"""Engine cases that the merged engine does not pass yet, each a strict
xfail with its measured figure (tests/shared cannot mark one: they also run
under the MicroPython unix port). A case that starts passing fails here until
it moves back to tests/shared/test_engine.py.

None today: test_dropped_samples_in_a_fatigue_shake_make_no_rebound passes
since a rebound across missing samples is no bounce (heelcore.reps, E_GAPT)
and lives in tests/shared/test_engine.py."""
