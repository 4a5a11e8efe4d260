// The status card both editors show under the arena: one sentence about what the car and the program
// are doing, with an icon (symbols every classroom computer has a font for: DejaVu, no emoji).

const ICONS = {
  idle: '☺', running: '➜', listening: '◎', finished: '★', stopped: '■', refused: '!', failed: '⚙', level: '★',
  safety: '⚠', grading: '✎', lesson: '⚑', car: '⇄',
};

/** setStatus(kind, text) for a card made of #status-card, #status-icon and #status-text. */
export function statusCard($) {
  return (kind, text) => {
    $('status-card').dataset.state = kind;
    $('status-icon').textContent = ICONS[kind] || '•';
    $('status-text').textContent = text;
  };
}
