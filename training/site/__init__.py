"""Taking a model to a site: validate it on local cases, recalibrate it, estimate the site's
prevalence without labels, and watch its case mix drift (docs/site.md)."""
