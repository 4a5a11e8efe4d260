// "Tell the car" in the Blockly app: the box (/language/tell_box.js) asks the classroom server, and this target
// puts the plan's blocks into the workspace — one undoable step (Ctrl+Z or the box's Undo), right of what is
// there, glowing as new until the kid changes something. They are never run from here: the kid presses Run.
//
//   const tell = mountTell($('tell-card'), { Blockly, workspace: () => ws, token: () => token, onPlanned });
//   tell.refresh();   // after a level or lesson change
import { TellBox } from '/language/tell_box.js';

export const NEW_GAP_PX = 60; // new blocks go this far right of what is already in the workspace
const NEW_CLASS = 'tell-new'; // the glow of blocks that came from a sentence (css/tell.css)

/** A Blockly block state without ids: Blockly makes fresh ones, so a plan never clashes with the workspace. */
export function withoutIds(state) {
  if (Array.isArray(state)) return state.map(withoutIds);
  if (!state || typeof state !== 'object') return state;
  const out = {};
  for (const [key, value] of Object.entries(state)) if (key !== 'id') out[key] = withoutIds(value);
  return out;
}

export class BlocklyPlans {
  constructor(Blockly, workspace) {
    this.Blockly = Blockly;
    this.workspace = workspace;
    this.stopGlow = null;
  }

  /** The plan's stack into the workspace; returns its top block. */
  insert(answer) {
    const { Blockly } = this;
    const ws = this.workspace();
    const state = withoutIds(answer.blockly.blocks.blocks[0]);
    const box = ws.getTopBlocks(false).length ? ws.getBlocksBoundingBox() : null;
    state.x = box ? box.right + NEW_GAP_PX : 40;
    state.y = box ? box.top : 40;
    this.forget();
    Blockly.Events.setGroup(true); // one group: one Ctrl+Z takes the whole plan away
    const group = Blockly.Events.getGroup();
    let block;
    try {
      block = Blockly.serialization.blocks.append(state, ws, { recordUndo: true });
    } finally {
      Blockly.Events.setGroup(false);
    }
    const ids = new Set(block.getDescendants(false).map((b) => b.id)); // with the number shadows
    for (const b of block.getDescendants(false)) b.getSvgRoot()?.classList.add(NEW_CLASS);
    ws.centerOnBlock(block.id);
    const listener = (event) => { // the glow stays until the kid changes one of these blocks (a number, a drag)
      if (!event.isUiEvent && event.group !== group && ids.has(event.blockId)) this.forget();
    };
    ws.addChangeListener(listener);
    this.stopGlow = () => {
      ws.removeChangeListener(listener);
      for (const b of block.getDescendants(false)) b.getSvgRoot()?.classList.remove(NEW_CLASS);
    };
    return block;
  }

  remove(block) {
    this.forget();
    if (block.isDeadOrDying()) return;
    this.Blockly.Events.setGroup(true);
    try { block.dispose(false, true); } finally { this.Blockly.Events.setGroup(false); }
  }

  forget() {
    this.stopGlow?.();
    this.stopGlow = null;
  }
}

export function mountTell(root, { Blockly, workspace, token, onPlanned }) {
  return new TellBox(root, { frontEnd: 'blockly', token, target: new BlocklyPlans(Blockly, workspace), onPlanned });
}
