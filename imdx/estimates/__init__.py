"""Estimates from the store: the :mod:`imdx.methods` functions connected to stored inputs, stored back
as estimate releases, compared with published estimates, and reported (see ``docs/estimates.md``).

* :mod:`imdx.estimates.inputs` -- birthplace x residence stock tables, births and deaths for one
  five-year period and sex, with the releases they came from;
* :mod:`imdx.estimates.run` -- every flows-from-stocks method over the periods and sexes, stored as
  one release of the ``estimated_flows`` dataflow (source ``imdx-estimates``);
* :mod:`imdx.estimates.abel_sander` -- agreement with Abel & Sander's (2014) published flows;
* :mod:`imdx.estimates.mirror` -- the de Beer et al. mirror method on the Eurostat receiving side;
* :mod:`imdx.estimates.remittances` -- the remittance-volatility and Ratha-Shaw reports;
* :mod:`imdx.estimates.markdown` -- small markdown table helpers shared by the reports.
"""

SOURCE = "imdx-estimates"
