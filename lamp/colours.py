"""What a message's colour means for a light of each kind: whether the light can show it, and
the tint (:mod:`curves.looks`) it is shown in.

A single-channel light shows no colour; an RGB light shows any colour (but black) and any
white in its kelvin range; a CCT light shows the whites of its range and no colour. A colour a
light cannot show is refused before anything changes: ``not_supported`` for a colour it has no
channels for, ``out_of_range`` for a white outside its range.
"""

from __future__ import annotations

import protocol
from curves.effects import Colours
from curves.looks import Channels, LightKind, Look, Tint

DEFAULT_KELVIN = 4000  # a CCT light's white before it was ever given one: neutral (within its range)
DEFAULT_COLOR = "#ffffff"  # an RGB light's colour before it was ever given one


def check_tone(channels: Channels, tone: protocol.Tone, light: str, request_id: protocol.RequestId = None) -> None:
    """Raise ProtocolError if the light ``light`` of ``channels`` cannot show ``tone``."""
    if tone.color is not None and not channels.takes_color:
        shows = _what_it_shows(channels)
        raise protocol.ProtocolError(
            protocol.NOT_SUPPORTED, f"light {light!r} {shows}: it shows no color, got {tone.color}", request_id
        )
    if tone.kelvin is not None:
        if channels.kelvin_range is None:
            raise protocol.ProtocolError(
                protocol.NOT_SUPPORTED,
                f"light {light!r} {_what_it_shows(channels)}: it shows no kelvin, got {tone.kelvin}",
                request_id,
            )
        low, high = channels.kelvin_range
        if not low <= tone.kelvin <= high:
            raise protocol.ProtocolError(
                protocol.OUT_OF_RANGE,
                f"kelvin for light {light!r} must be from {low} to {high}, got {tone.kelvin}",
                request_id,
            )


def _what_it_shows(channels: Channels) -> str:
    if channels.kind is LightKind.CCT:
        low, high = channels.kelvin_range or (0, 0)
        return f"is a tunable white ({low} to {high} K, set with kelvin)"
    return "has one channel (set its level)"


def tint_of(channels: Channels, color: str = "", kelvin: int = 0) -> Tint:
    """The tint of a state's (or a message's) colour on ``channels``; the light's white with none."""
    if color and channels.takes_color:
        return channels.of_color(color)  # type: ignore[union-attr]
    if kelvin and channels.kelvin_range is not None:
        return channels.of_kelvin(kelvin)  # type: ignore[union-attr]
    return channels.white


def look_of(channels: Channels, state: protocol.State) -> Look:
    """What a light of ``channels`` shows in ``state`` once any fade is over."""
    return Look(state.level, tint_of(channels, state.color, state.kelvin))


def starting_tone(channels: Channels, color: str = "", kelvin: int = 0) -> protocol.Tone:
    """The colour a light starts in: the one saved (``color`` or ``kelvin``) if the light can
    still show it (LIGHTS may have changed since), else its default. None of either for a
    single-channel light."""
    tone = protocol.Tone(color or None, kelvin or None)
    try:
        check_tone(channels, tone, "")
    except protocol.ProtocolError:
        tone = protocol.Tone()
    if tone.color is None and tone.kelvin is None:
        if channels.kind is LightKind.RGB:
            return protocol.Tone(DEFAULT_COLOR)
        if channels.kelvin_range is not None:
            low, high = channels.kelvin_range
            return protocol.Tone(kelvin=min(high, max(low, DEFAULT_KELVIN)))
    return tone


def effect_colours(channels: Channels, effect: protocol.Effect, state: protocol.State) -> Colours:
    """The colours ``effect`` is shown in on a light in ``state``: its own when it has one, a
    candle's flame (reddening as it dips on an RGB light, the warmest white on a CCT light),
    else the light's."""
    if effect.color is not None or effect.kelvin is not None:
        tint = tint_of(channels, effect.color or "", effect.kelvin or 0)
        return Colours(tint, tint)
    if effect.name is protocol.EffectName.CANDLE:
        return Colours(*channels.flame())
    tint = tint_of(channels, state.color, state.kelvin)
    return Colours(tint, tint)
