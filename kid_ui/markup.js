// The lesson panel's markup, the same in the Blockly app and the Scratch editor: the lesson card (or the
// "pick a lesson" button) in a slot of the page, and the picker, feedback and "my tries" dialogs at the
// end of <body>. Static markup only (no server text here): lessons.js and feedback.js fill it with
// textContent. Idempotent: mounting twice does nothing the second time.

const CARD = `
<div class="lesson-card" id="lesson-card" hidden>
  <div class="lesson-head">
    <span class="lesson-chip" id="lesson-chip"></span>
    <h2 class="lesson-title" id="lesson-title"></h2>
    <button class="btn soft small lesson-switch" id="lessons-btn" title="Pick another lesson, or drive freely">Lessons</button>
  </div>
  <p class="lesson-story" id="lesson-story"></p>
  <p class="lesson-goal"><span class="goal-flag" aria-hidden="true">⚑</span> <span id="lesson-goal"></span></p>
  <ul class="lesson-hints" id="lesson-hints" aria-live="polite"></ul>
  <div class="lesson-foot">
    <span class="lesson-best" id="lesson-best"></span>
    <button class="btn soft small" id="hint-btn" hidden>Need a hint?</button>
    <button class="btn soft small" id="attempts-btn" title="See your tries and compare two">My tries</button>
    <button class="btn soft small" id="last-feedback-btn" hidden title="See the last feedback again">Last result</button>
  </div>
</div>
<button class="pick-lesson" id="pick-lesson" hidden>★ Pick a lesson — or just drive freely</button>`;

const DIALOGS = `
<div class="dialog-backdrop" id="lesson-picker" hidden>
  <section class="dialog picker" role="dialog" aria-modal="true" aria-labelledby="picker-title">
    <header class="dialog-head">
      <h2 id="picker-title">Pick a lesson</h2>
      <button class="btn soft" id="free-drive-btn" title="No lesson: drive however you like">Free driving</button>
      <button class="close-x" data-close aria-label="Close">✕</button>
    </header>
    <div class="picker-body" id="picker-body"></div>
  </section>
</div>

<div class="dialog-backdrop" id="feedback-dialog" hidden>
  <section class="dialog feedback" role="dialog" aria-modal="true" aria-labelledby="feedback-title" id="feedback-card">
    <button class="close-x" data-close aria-label="Close">✕</button>
    <div class="feedback-body" id="feedback-body"></div>
  </section>
</div>

<div class="dialog-backdrop" id="attempts-dialog" hidden>
  <section class="dialog attempts" role="dialog" aria-modal="true" aria-labelledby="attempts-title">
    <header class="dialog-head">
      <h2 id="attempts-title">My tries</h2>
      <button class="close-x" data-close aria-label="Close">✕</button>
    </header>
    <p class="attempts-help" id="attempts-help">Tick two tries, then press Compare.</p>
    <ol class="attempt-list" id="attempt-list"></ol>
    <div class="attempts-actions">
      <button class="btn run" id="compare-btn" disabled>Compare</button>
    </div>
    <div class="compare-result" id="compare-result" hidden></div>
  </section>
</div>
<div class="dialog-backdrop" id="same-name-dialog" hidden>
  <section class="dialog same-name" role="dialog" aria-modal="true" aria-labelledby="same-name-title">
    <h2 id="same-name-title"></h2>
    <p class="same-name-help">Two kids with the same name? Then add the first letter of your last name.</p>
    <div class="same-name-actions">
      <button class="btn soft" id="same-name-no">No, I am someone else</button>
      <button class="btn run" id="same-name-yes" data-autofocus>Yes, that is me</button>
    </div>
  </section>
</div>`;

/** Put the lesson card into `slot` and the dialogs into the page (once). */
export function mountLessonUI(slot, doc = document) {
  if (!doc.getElementById('lesson-card')) slot.insertAdjacentHTML('beforeend', CARD);
  if (!doc.getElementById('lesson-picker')) doc.body.insertAdjacentHTML('beforeend', DIALOGS);
}
