"""Self-contained HTML reports: the job's account report and a simulation's report.

Each report is one HTML file that opens without a network: the charts are plotly figures
with plotly.js inlined once, the page a jinja2 template with autoescaping. plotly and
jinja2 are imported only inside the functions that build a page, so ``import allocator``
and ``allocator --help`` stay free of them.

* :mod:`.history`: what the job's store holds for an account, as the report's inputs;
* :mod:`.job_report`: ``allocator report --config job.toml`` and ``[job] report_html``;
* :mod:`.simulation_report`: ``allocator simulate ... --html`` and
  ``allocator report --simulation DIR``.
"""
