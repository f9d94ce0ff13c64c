"""After the run, for people reading it: the Allure report model (allure_mapping.py), the kept runs and their
HTML reports (report.py), and the merge of many targets' runs into one verdict (merge.py).

May import core and judge (it reads the typed Verdict); never probes, incident, playbook, nor pytest (the pytest
side of Allure is pytest_plugin/allure_adapter.py)."""
