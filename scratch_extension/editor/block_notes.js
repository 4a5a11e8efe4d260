// Notes next to the block that caused them: a refusal ("The “drive at …% for … seconds” block unlocks
// at level 2"), a safety note ("I slowed down: wall 10 cm ahead"), or what the car did ("the wall was
// too close, so I backed up"). Big and readable, with the block outlined in the note's colour; Scratch's
// own speech bubble still says it too. The extension tells us which block (MIKRODOJO_NOTE / _BLOCK).

const NOTE_MS = 12_000; // long enough to read twice; "OK" closes it sooner
const GAP_PX = 14; // between the block and the note's arrow
const NOTE_WIDTH_PX = 300;

export class BlockNotes {
  /** $: id -> element; vm: the Scratch VM; onNote(kind, text): the status card says it as well */
  constructor($, vm, onNote) {
    this.$ = $;
    this.vm = vm;
    this.onNote = onNote;
    this.running = null; // the block the car is doing now (for safety notes, which name no block)
    this.marked = null;
    this.timer = null;
    vm.runtime.on('MIKRODOJO_NOTE', (n) => this.show(n.blockId, n.kind, n.text));
    vm.runtime.on('MIKRODOJO_BLOCK', (b) => {
      if (b.state === 'start') this.running = b.blockId;
      else if (this.running === b.blockId) this.running = null;
    });
    $('block-note-ok').addEventListener('click', () => this.hide());
  }

  /** A safety intervention of the kid's car: next to the block that was driving. */
  safety(text) {
    this.show(this.running, 'safety', text);
  }

  show(blockId, kind, text) {
    if (!text) return;
    this.onNote(kind, text);
    const block = this.block(blockId);
    const note = this.$('block-note');
    this.hide();
    this.$('block-note-text').textContent = text;
    note.dataset.kind = kind;
    note.hidden = false;
    const rect = block && block.getSvgRoot().getBoundingClientRect();
    if (rect && rect.width) {
      block.getSvgRoot().classList.add('dojo-noted', `dojo-noted-${kind}`);
      this.marked = block;
      const right = rect.right + GAP_PX + NOTE_WIDTH_PX < window.innerWidth;
      note.dataset.side = right ? 'right' : 'left';
      note.style.left = `${right ? rect.right + GAP_PX : Math.max(4, rect.left - GAP_PX - NOTE_WIDTH_PX)}px`;
      note.style.top = `${Math.max(4, rect.top + rect.height / 2 - 28)}px`;
    } else { // no block on screen (another sprite's, or a green-flag refusal): under the menu bar
      note.dataset.side = 'none';
      note.style.left = '50%';
      note.style.top = '56px';
    }
    this.timer = setTimeout(() => this.hide(), NOTE_MS);
  }

  hide() {
    clearTimeout(this.timer);
    this.$('block-note').hidden = true;
    if (this.marked?.getSvgRoot()) this.marked.getSvgRoot().classList.remove(...[...this.marked.getSvgRoot().classList].filter((c) => c.startsWith('dojo-noted')));
    this.marked = null;
  }

  /** The block with this id on screen: in the scripts area, or in the palette (a clicked block). */
  block(blockId) {
    const Blockly = window.Blockly;
    const workspace = blockId && Blockly && Blockly.getMainWorkspace();
    if (!workspace) return null;
    return workspace.getBlockById(blockId) || workspace.getFlyout()?.getWorkspace().getBlockById(blockId) || null;
  }
}
