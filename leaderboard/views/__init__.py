"""The app's views, one module each; every view is ``render(context)``."""

from leaderboard.views import charts_view, leaderboard_view, preference_view, samples_view

VIEWS = {
    "Leaderboard": leaderboard_view.render,
    "Charts": charts_view.render,
    "Preference data": preference_view.render,
    "Samples": samples_view.render,
}
