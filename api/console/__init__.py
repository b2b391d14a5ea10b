"""The web console of `alertstream api` (served at ``/``) and the endpoints it needs: a live
stream of the history's changes, alert counts and groups, an alert's timeline, the overview's
series, a preview of what label matchers select, and backtest jobs. See api/README.md."""
