"""``fraudstream demo``: the end-to-end orchestration (``pipeline``), its background services
(``services``), the live traffic slice (``live``), stage bookkeeping (``stages``) and the closing
report (``summary``)."""
