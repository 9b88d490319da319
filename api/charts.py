"""Small server-side SVG charts for printable pages: readable on a phone, no JavaScript, no CDN."""
from markupsafe import Markup, escape


def hbar(rows: list[tuple[str, float]], *, fmt=lambda v: f"{v:.1%}", width: int = 340, bar_h: int = 18) -> Markup:
    """Horizontal bars, one per (label, value); the longest bar is the largest value."""
    if not rows:
        return Markup('<p class="empty">暂无数据</p>')
    top = max(v for _, v in rows) or 1
    label_w, value_w = 110, 56
    span = width - label_w - value_w
    height = len(rows) * (bar_h + 6) + 4
    parts = [f'<svg viewBox="0 0 {width} {height}" width="100%" role="img" xmlns="http://www.w3.org/2000/svg">']
    for i, (label, value) in enumerate(rows):
        y = 4 + i * (bar_h + 6)
        length = max(1, round(span * value / top)) if value else 0
        parts.append(f'<text x="{label_w - 6}" y="{y + bar_h - 5}" text-anchor="end" font-size="12">'
                     f"{escape(label)}</text>")
        parts.append(f'<rect x="{label_w}" y="{y}" width="{length}" height="{bar_h}" fill="#c0392b" rx="2"/>')
        parts.append(f'<text x="{label_w + length + 4}" y="{y + bar_h - 5}" font-size="12">{escape(fmt(value))}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def columns(points: list[tuple[str, int, int]], *, width: int = 340, height: int = 140) -> Markup:
    """Daily columns: total ratings in grey with the 差评 part in red; labels every few days."""
    if not points:
        return Markup('<p class="empty">暂无数据</p>')
    top = max(total for _, total, _ in points) or 1
    plot_h = height - 22
    step = width / len(points)
    bar_w = max(1.0, step * 0.7)
    parts = [f'<svg viewBox="0 0 {width} {height}" width="100%" role="img" xmlns="http://www.w3.org/2000/svg">']
    for i, (label, total, bad) in enumerate(points):
        x = i * step
        h_total = plot_h * total / top
        h_bad = plot_h * bad / top
        parts.append(f'<rect x="{x:.1f}" y="{plot_h - h_total:.1f}" width="{bar_w:.1f}" height="{h_total:.1f}" '
                     f'fill="#bdc3c7"/>')
        parts.append(f'<rect x="{x:.1f}" y="{plot_h - h_bad:.1f}" width="{bar_w:.1f}" height="{h_bad:.1f}" '
                     f'fill="#c0392b"/>')
        if i % max(1, len(points) // 6) == 0:
            parts.append(f'<text x="{x:.1f}" y="{height - 6}" font-size="10">{escape(label[-5:])}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))
