"""Draw a sandbox scene: a small animated picture of the prompt, in the model's look.

Fast by construction: everything that does not move (sky, sun or moon, the ground, the
grade and blur of the model's look) is drawn once into a background a little wider than
the frame; each frame is a slice of it (the camera pans), a few small sprites blended in
their own boxes, particles set by index, and the caption band. A 5 s 640x360 clip renders
in a fraction of a second (see tests/test_sandbox_render.py and benchmarks/results/).
"""

from __future__ import annotations

import math
from typing import Any

from .scene_looks import Look, grade, vignette_gain
from .scene_words import RGB, Recipe

__all__ = ["Scene"]


def _rgba(size: tuple[int, int], draw: Any) -> tuple[Any, Any]:
    """A sprite drawn by ``draw(ImageDraw, w, h)`` as (uint8 RGB, float32 alpha) arrays."""
    import numpy as np
    from PIL import Image, ImageDraw

    img = Image.new("RGBA", (max(2, size[0]), max(2, size[1])), (0, 0, 0, 0))
    draw(ImageDraw.Draw(img), img.width, img.height)
    array = np.asarray(img)
    return array[..., :3].copy(), array[..., 3:4].astype(np.float32) / 255.0


def _blit(frame: Any, sprite: tuple[Any, Any], x: float, y: float) -> None:
    """Blend ``sprite`` into ``frame`` (float32) with its top-left corner at (x, y)."""
    rgb, alpha = sprite
    h, w = frame.shape[:2]
    sh, sw = alpha.shape[:2]
    x0, y0 = int(x), int(y)
    fx0, fy0, fx1, fy1 = max(0, x0), max(0, y0), min(w, x0 + sw), min(h, y0 + sh)
    if fx0 >= fx1 or fy0 >= fy1:
        return
    src = (slice(fy0 - y0, fy1 - y0), slice(fx0 - x0, fx1 - x0))
    region = frame[fy0:fy1, fx0:fx1]
    a = alpha[src]
    region *= 1.0 - a
    region += rgb[src] * a


class Scene:
    """The frames of one recipe in one look; ``frame(i)`` returns uint8 RGB (h, w, 3)."""

    def __init__(
        self, recipe: Recipe, look: Look, width: int, height: int, fps: int, frames: int
    ) -> None:
        import numpy as np

        self.recipe, self.look = recipe, look
        self.w, self.h, self.fps, self.frames = width, height, fps, frames
        self.unit = min(width, height)
        self.rng = np.random.default_rng(recipe.seed)
        self.pan = max(4, int(width * 0.18))
        self.horizon = int(height * (0.62 if recipe.ground != "sea" else 0.58))
        self.background = self._background()
        self.sprites = self._sprites()
        self.particles = self._particles()
        self.vignette = vignette_gain(height, width, look.vignette) if look.vignette else None

    # --- what is drawn once --------------------------------------------------------------

    def _colour(self, rgb: RGB) -> Any:
        import numpy as np

        return grade(np.asarray([[rgb]], dtype=np.uint8), self.look)[0, 0].astype(np.float32)

    def _background(self) -> Any:
        import numpy as np
        from PIL import Image, ImageDraw, ImageFilter

        r, h, world = self.recipe, self.h, self.w + self.pan
        ramp = np.linspace(0.0, 1.0, h, dtype=np.float32)[:, None, None]
        top, bottom = np.asarray(r.sky_top, np.float32), np.asarray(r.sky_bottom, np.float32)
        sky = np.broadcast_to(top + (bottom - top) * ramp, (h, world, 3)).astype(np.uint8)
        img = Image.fromarray(np.ascontiguousarray(sky))
        draw = ImageDraw.Draw(img)
        self._draw_celestial(draw, world)
        {"mountains": self._mountains, "skyline": self._skyline, "sea": self._sea}.get(
            r.ground, self._hills
        )(draw, world)
        if self.look.blur:
            img = img.filter(ImageFilter.GaussianBlur(self.look.blur * h / 100))
        return grade(np.asarray(img), self.look)

    def _draw_celestial(self, draw: Any, world: int) -> None:
        r = self.recipe
        if not r.celestial:
            return
        radius = self.unit * (0.09 if r.celestial == "sun" else 0.06)
        cx = world * (0.25 + 0.5 * self.rng.random())
        cy = self.horizon * (0.55 if r.celestial == "sun" else 0.3)
        glow = tuple(min(255, c + 40) for c in r.sky_bottom)
        draw.ellipse(
            (cx - radius * 1.8, cy - radius * 1.8, cx + radius * 1.8, cy + radius * 1.8), fill=glow
        )
        colour = (255, 236, 170) if r.celestial == "sun" else (236, 236, 220)
        draw.ellipse((cx - radius, cy - radius, cx + radius, cy + radius), fill=colour)

    def _ridge(self, world: int, rough: float, base: float) -> list[tuple[float, float]]:
        phases = self.rng.random(3) * 6.28
        points = [(0.0, float(self.h))]
        for x in range(0, world + 9, 8):
            u = x / max(1, self.w)
            y = base - self.h * rough * (
                0.5 * math.sin(u * 4.1 + phases[0])
                + 0.3 * math.sin(u * 9.7 + phases[1])
                + 0.2 * abs(math.sin(u * 17.3 + phases[2]))
            )
            points.append((float(x), y))
        points.append((float(world), float(self.h)))
        return points

    def _hills(self, draw: Any, world: int) -> None:
        g = self.recipe.ground_rgb
        far = tuple(int(c * 0.7 + s * 0.3) for c, s in zip(g, self.recipe.sky_bottom, strict=True))
        draw.polygon(self._ridge(world, 0.08, self.horizon - self.h * 0.04), fill=far)
        draw.polygon(self._ridge(world, 0.05, self.horizon + self.h * 0.06), fill=g)

    def _range(self, world: int, low: float, high: float) -> list[tuple[float, float]]:
        """Peaks and valleys, alternating, across the world (a jagged mountain line)."""
        rng, h, points = self.rng, self.h, []
        x = -self.unit * 0.2 * float(rng.random())
        while x < world + self.unit * 0.4:
            points.append((x, self.horizon - h * (low + (high - low) * float(rng.random()))))
            x += self.unit * (0.12 + 0.14 * float(rng.random()))
            points.append((x, self.horizon - h * (0.01 + 0.06 * float(rng.random()))))
            x += self.unit * (0.12 + 0.14 * float(rng.random()))
        return points

    def _mountains(self, draw: Any, world: int) -> None:
        sky = self.recipe.sky_top
        for low, high, shade in ((0.2, 0.36, 0.75), (0.1, 0.26, 0.5)):  # far range, then near
            line = self._range(world, low, high)
            rock = tuple(int(c * shade) for c in sky)
            draw.polygon(
                [(line[0][0], float(self.h)), *line, (line[-1][0], float(self.h))], fill=rock
            )
            for i in range(0, len(line) - 1, 2):  # a snow cap on every peak
                (px, py), (rx, ry) = line[i], line[i + 1]
                lx, ly = line[i - 1] if i else (px - (rx - px), ry)
                f = 0.32
                left, right = (
                    (px + (lx - px) * f, py + (ly - py) * f),
                    (px + (rx - px) * f, py + (ry - py) * f),
                )
                dip = (ly - py) * f * 0.25
                cap = [
                    left,
                    (px, py),
                    right,
                    ((px + right[0]) / 2, right[1] - dip),
                    (px, right[1] + dip * 0.5),
                    ((px + left[0]) / 2, left[1] - dip),
                ]
                draw.polygon(cap, fill=(245, 248, 252))
        draw.rectangle((0, self.horizon, world, self.h), fill=self.recipe.ground_rgb)

    def _skyline(self, draw: Any, world: int) -> None:
        g, rng = self.recipe.ground_rgb, self.rng
        x = 0.0
        while x < world:
            bw = self.unit * (0.06 + 0.08 * rng.random())
            top = self.horizon - self.h * (0.12 + 0.3 * rng.random())
            shade = tuple(int(c * (0.6 + 0.3 * rng.random())) for c in self.recipe.sky_top)
            draw.rectangle((x, top, x + bw, self.h), fill=shade)
            for wy in range(int(top) + 4, self.horizon, max(4, self.h // 30)):
                for wx in range(int(x) + 3, int(x + bw) - 3, max(4, self.w // 60)):
                    if rng.random() < 0.35:
                        draw.rectangle((wx, wy, wx + 1, wy + 1), fill=(255, 214, 120))
            x += bw + 1
        draw.rectangle((0, self.horizon, world, self.h), fill=g)

    def _sea(self, draw: Any, world: int) -> None:
        g = self.recipe.ground_rgb
        for i in range(8):  # deeper water is darker
            top = self.horizon + (self.h - self.horizon) * i / 8
            shade = tuple(int(c * (1.15 - 0.08 * i)) for c in g)
            draw.rectangle((0, top, world, self.h), fill=tuple(min(255, s) for s in shade))

    def _sprites(self) -> list[tuple[str, tuple[Any, Any], float, float]]:
        """(kind, sprite, start x fraction, start y fraction) for every moving thing."""
        makers = {
            "balloon": self._balloon,
            "boat": self._boat,
            "birds": self._bird,
            "car": self._car,
            "orb": self._orb,
        }
        out = []
        for kind in self.recipe.things:
            count = int(3 + self.rng.integers(0, 3)) if kind == "birds" else 1
            sprite = makers[kind]()
            for _ in range(count):
                out.append((kind, sprite, float(self.rng.random()), float(self.rng.random())))
        return out

    def _paint(self, size: tuple[float, float], draw: Any) -> tuple[Any, Any]:
        rgb, alpha = _rgba((int(size[0]), int(size[1])), draw)
        return grade(rgb, self.look), alpha

    def _balloon(self) -> tuple[Any, Any]:
        a, s = self.recipe.accent, self.unit * 0.2

        def draw(d: Any, w: int, h: int) -> None:
            d.ellipse((0, 0, w - 1, h * 0.72), fill=(*a, 255))
            d.ellipse((w * 0.3, 0, w * 0.7, h * 0.72), fill=(255, 240, 200, 255))
            d.line((w * 0.25, h * 0.66, w * 0.42, h * 0.86), fill=(60, 40, 30, 255))
            d.line((w * 0.75, h * 0.66, w * 0.58, h * 0.86), fill=(60, 40, 30, 255))
            d.rectangle((w * 0.4, h * 0.85, w * 0.6, h - 1), fill=(120, 72, 40, 255))

        return self._paint((s * 0.8, s), draw)

    def _boat(self) -> tuple[Any, Any]:
        s = self.unit * 0.22

        def draw(d: Any, w: int, h: int) -> None:
            d.polygon(
                [(0, h * 0.7), (w - 1, h * 0.7), (w * 0.8, h - 1), (w * 0.2, h - 1)],
                fill=(240, 236, 226, 255),
            )
            d.polygon(
                [(w * 0.5, 0), (w * 0.5, h * 0.66), (w * 0.15, h * 0.66)],
                fill=(*self.recipe.accent, 255),
            )
            d.polygon(
                [(w * 0.55, h * 0.08), (w * 0.55, h * 0.66), (w * 0.85, h * 0.66)],
                fill=(250, 250, 250, 255),
            )

        return self._paint((s, s * 0.9), draw)

    def _bird(self) -> tuple[Any, Any]:
        s = self.unit * 0.06

        def draw(d: Any, w: int, h: int) -> None:
            d.line((0, 0, w * 0.5, h - 1, w - 1, 0), fill=(30, 30, 40, 255), width=max(1, w // 8))

        return self._paint((s, s * 0.5), draw)

    def _car(self) -> tuple[Any, Any]:
        s = self.unit * 0.2

        def draw(d: Any, w: int, h: int) -> None:
            d.rectangle((0, h * 0.4, w - 1, h * 0.8), fill=(*self.recipe.accent, 255))
            d.rectangle((w * 0.2, h * 0.1, w * 0.7, h * 0.45), fill=(*self.recipe.accent, 255))
            d.rectangle((w * 0.28, h * 0.18, w * 0.62, h * 0.4), fill=(200, 230, 250, 255))
            for cx in (w * 0.22, w * 0.78):
                d.ellipse((cx - h * 0.18, h * 0.62, cx + h * 0.18, h - 1), fill=(20, 20, 20, 255))

        return self._paint((s, s * 0.5), draw)

    def _orb(self) -> tuple[Any, Any]:
        a, s = self.recipe.accent, self.unit * 0.18

        def draw(d: Any, w: int, h: int) -> None:
            for i in range(6):  # a soft glow: rings of rising opacity
                inset = w * i / 14
                d.ellipse((inset, inset, w - 1 - inset, h - 1 - inset), fill=(*a, 40 + 43 * i))
            d.ellipse((w * 0.38, h * 0.3, w * 0.5, h * 0.42), fill=(255, 255, 255, 230))

        return self._paint((s, s), draw)

    def _particles(self) -> list[tuple[str, Any, Any, Any]]:
        """(kind, x, y, graded colour) arrays for rain, snow, stars and fireflies."""
        import numpy as np

        colours = {
            "rain": (200, 215, 235),
            "snow": (250, 250, 255),
            "stars": (255, 255, 230),
            "fireflies": (255, 236, 120),
        }
        area = self.w * self.h
        out = []
        for kind in self.recipe.particles:
            n = {"rain": area // 700, "snow": area // 900, "stars": area // 1500}.get(kind, 24)
            xs = self.rng.random(max(8, n)).astype(np.float32) * self.w
            top = self.horizon if kind == "stars" else self.h
            ys = self.rng.random(max(8, n)).astype(np.float32) * top
            out.append((kind, xs, ys, self._colour(colours[kind])))
        return out

    # --- what moves ------------------------------------------------------------------------

    def frame(self, index: int) -> Any:
        """Frame ``index`` (0-based) as uint8 RGB of shape (height, width, 3)."""
        import numpy as np

        t = index / max(1, self.frames - 1)  # 0..1 over the clip
        sec = index / self.fps * self.recipe.speed * self.look.speed
        weave = round(self.look.weave * math.sin(index * 2.3)) if self.look.weave else 0
        offset = int(self.pan * t)
        # gate weave: the picture slides a pixel up or down, the edge row repeating
        rows = np.clip(np.arange(self.h) - weave, 0, self.h - 1) if weave else slice(None)
        frame = self.background[rows, offset : offset + self.w].astype(np.float32)
        if self.recipe.ground == "sea":
            self._waves(frame, sec)
        for kind, sprite, fx, fy in self.sprites:
            x, y = self._place(kind, sprite, fx, fy, t, sec)
            _blit(frame, sprite, x, y)
        for kind, xs, ys, colour in self.particles:
            self._scatter(frame, kind, xs, ys, colour, sec, index)
        return self._finish(frame)

    def _place(
        self, kind: str, sprite: Any, fx: float, fy: float, t: float, sec: float
    ) -> tuple[float, float]:
        sh, sw = sprite[1].shape[:2]
        w, h, hz = self.w, self.h, self.horizon
        if kind == "balloon":
            return (
                w * (0.15 + 0.6 * fx) + sw * 0.3 * math.sin(sec * 1.3),
                h * (0.45 - 0.3 * t) - sh * 0.5,
            )
        if kind == "boat":
            x = (w + sw) * ((0.1 + 0.25 * fx + 0.12 * sec) % 1.0) - sw
            return x, hz + (h - hz) * 0.15 - sh * 0.75 + sh * 0.05 * math.sin(sec * 3.1)
        if kind == "birds":
            x = (w + sw) * ((fx + 0.18 * sec) % 1.0) - sw
            return x, h * (0.1 + 0.3 * fy) + sh * math.sin(sec * 4.0 + fx * 9)
        if kind == "car":
            x = (w + sw) * ((fx + 0.35 * sec) % 1.0) - sw
            return x, hz + (h - hz) * 0.35 - sh * 0.5
        cx = w * (0.5 + 0.3 * math.sin(sec * 0.9 + fx * 6.0))
        cy = h * (0.35 + 0.15 * math.sin(sec * 1.7 + fy * 6.0))
        return cx - sw / 2, cy - sh / 2

    def _waves(self, frame: Any, sec: float) -> None:
        import numpy as np

        xs = np.arange(self.w)
        r, g, b = (min(255, c + 80) for c in self.recipe.ground_rgb)
        crest = self._colour((r, g, b))
        for k in range(4):
            base = self.horizon + (self.h - self.horizon) * (0.2 + 0.2 * k)
            amp = self.h * 0.01 * (1 + k)
            ys = (base + amp * np.sin(xs * (0.05 / (1 + k * 0.4)) + sec * (2.0 + k) + k)).astype(
                int
            )
            ys = np.clip(ys, 0, self.h - 1)
            frame[ys, xs] = crest

    def _scatter(
        self, frame: Any, kind: str, xs: Any, ys: Any, colour: Any, sec: float, index: int
    ) -> None:
        import numpy as np

        h, w = self.h, self.w
        if kind == "rain":
            y = (ys + sec * h * 1.6) % h
            x = (xs + y * 0.15) % w
            for k in range(max(2, h // 40)):
                frame[np.clip(y + k, 0, h - 1).astype(int), x.astype(int)] = colour
            return
        if kind == "snow":
            y = ((ys + sec * h * 0.12) % h).astype(int)
            x = ((xs + np.sin(sec + ys) * w * 0.02) % w).astype(int)
            frame[y, x] = colour
            frame[np.minimum(y + 1, h - 1), np.minimum(x + 1, w - 1)] = colour
            return
        if kind == "stars":
            lit = (np.arange(len(xs)) + index // 3) % 4 != 0  # a quarter twinkles off
            frame[ys[lit].astype(int), xs[lit].astype(int)] = colour
            return
        x = ((xs + np.sin(sec * 1.3 + ys) * w * 0.05) % w).astype(int)
        y = ((ys + np.cos(sec * 1.1 + xs) * h * 0.05) % h).astype(int)
        for dy in (0, 1):
            for dx in (0, 1):
                frame[np.minimum(y + dy, h - 1), np.minimum(x + dx, w - 1)] = colour

    def _finish(self, frame: Any) -> Any:
        import numpy as np

        look = self.look
        if self.vignette is not None:
            frame *= self.vignette
        # every step above blends or scales colours in 0..255: no clip needed
        out = frame.astype(np.uint8)
        if look.pixel:
            block = max(2, self.h * look.pixel // 100)
            small = out[block // 2 :: block, block // 2 :: block]
            out = np.repeat(np.repeat(small, block, axis=0), block, axis=1)
            out = np.pad(
                out,
                ((0, max(0, self.h - out.shape[0])), (0, max(0, self.w - out.shape[1])), (0, 0)),
                mode="edge",
            )[: self.h, : self.w]
        if look.letterbox:
            bar = int(self.h * look.letterbox)
            out[:bar] = 0
            out[self.h - bar :] = 0
        return out
