"""The dossier invitation (layout in ``invitation.kv``): "Mời Quý khách đánh giá việc giải quyết hồ sơ …" and the
three rating tiles right there; a touch on a tile rates (and links the dossier), as on home."""

from __future__ import annotations

from kivy.uix.screenmanager import Screen


class InvitationScreen(Screen):
    """The invitation; the dossier's shortened code comes from the app's officer desk."""
