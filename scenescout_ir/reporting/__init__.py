"""After the run: Allure mapping and HTML reports.

May import core, judge and incident."""
