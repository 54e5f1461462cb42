"""Pure cores of the reports service: the table model of each kind, CSV and PDF writing."""
