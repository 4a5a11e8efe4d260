// MIKRO-DOJO: drive a classroom robot car from Scratch 3.
//
// One file in TurboWarp's unsandboxed format. It runs in TurboWarp (loaded by URL from the classroom
// server, see the README) and in the editor our server serves at /scratch/ (a small `Scratch` shim).
//
// Transport: the classroom server's Scratch-Link-compatible endpoint /scratch/ble (JSON-RPC 2.0 over a
// WebSocket, the same messages scratch-vm's own BLE class sends). Each car the kid may drive is a
// peripheral; a block call is a `write` on the block characteristic; the block's one final answer,
// telemetry and level changes come back as `characteristicDidChange` notifications (JSON payloads with
// a "type"). Refusals travel inside those payloads, so a refused block never breaks the connection.
(function (Scratch) {
    'use strict';

    const EXTENSION_ID = 'mikrodojo';
    // The server fills this in when it serves the file (GET /scratch/extension.js): its own origin and
    // the class code / first name given in the URL. Loaded from a file, TurboWarp's rule applies:
    // unsandboxed extensions come from http://localhost:8000, so that is where the server listens then.
    const SERVED_CONFIG = {/*MIKRODOJO_CONFIG*/};
    // The blocks, from the block table (curriculum/catalog.py): getInfo's blocks and menus, and `calls`,
    // how each command opcode becomes a block call ({block, args: {ARG: [param, kind]}, fixed}). The
    // server fills it in when it serves the file, so a new catalog row appears here with no edit.
    const BLOCK_TABLE = {/*MIKRODOJO_BLOCKS*/};
    const FALLBACK_SERVER = 'http://localhost:8000';

    // Ids of our car "service" (see server/scratch/protocol.py); 16-bit ids on the Bluetooth base.
    const SERVICE_ID = '0000d0d0-0000-1000-8000-00805f9b34fb';
    const BLOCK_CHAR_ID = '0000d0d1-0000-1000-8000-00805f9b34fb';
    const EVENTS_CHAR_ID = '0000d0d2-0000-1000-8000-00805f9b34fb';

    const RPC_TIMEOUT_MS = 5000; // loopback/LAN answers in milliseconds; 5 s means the server is gone
    const SCAN_TIMEOUT_MS = 15000; // what scratch-vm's BLE class waits for the first car before "none found"
    // After `server_moving` (the server process drains): how long to keep trying to reach the car again, and
    // how often. Behind a balancer another process answers at once; a single server restarting takes seconds.
    const SERVER_MOVING_RETRY_MS = 30000;
    const SERVER_MOVING_RETRY_EVERY_MS = 500;
    // A block's final answer: the longest move is a 30 s drive plus the server's own result margin.
    const BLOCK_TIMEOUT_MS = 60000;
    const OBSTACLE_HYSTERESIS_CM = 5; // the hat re-arms only once the obstacle is this much further away
    // A reporter right after a move (or the green flag) reads a sample from after it: 20 Hz means one comes
    // within 50 ms; after these waits the latest sample is used anyway.
    const FRESH_TELEMETRY_WAIT_MS = 250;
    const RUN_START_WAIT_MS = 2000; // the server puts a lesson's car at its start before it says "started"
    // "distance ahead" when the sensor sees nothing: Infinity, like the SDK and Blockly (`distance < 20` is false)
    const NOTHING_AHEAD_CM = Infinity;
    const SAY_MS = 8000; // how long a refusal stays in the sprite's speech bubble (the editor also shows it big)
    const LOCKED_LABEL = (level) => `★ unlocks at level ${level}`; // the Blockly app's teaser words
    const ANY_CAR = '*'; // connectTo(ANY_CAR): the first car the kid is given (after the teacher took theirs)
    const MAX_PROGRAM_CHARS = 400 * 1024; // under the server's 512 KB run payload, with room for UTF-8

    const say = (text) => text;
    const TEXT = {
        notConnected: say('Connect my car first: click the orange dot next to MIKRO-DOJO.'),
        lost: say('I lost my car. Click the orange dot to connect again.'),
        noAnswer: say('My car did not answer. Try again!'),
    };
    // Events for the page around Scratch (our editor listens on vm.runtime; TurboWarp ignores them).
    const EVENT = {
        note: 'MIKRODOJO_NOTE', // {blockId, kind: refused|failed|note, text, rule}: say it next to that block
        block: 'MIKRODOJO_BLOCK', // {blockId, state: start|end}: which block the car is doing now
        car: 'MIKRODOJO_CAR', // {carId, previous, kidText}: the teacher gave this kid another car (or none)
        lesson: 'MIKRODOJO_LESSON', // the page -> us: {allowedBlocks} of the picked lesson, or null
    };

    // The MIKRO-DOJO car (kid_ui/logo.svg), the same picture as in the Blockly app and on the landing page.
    const ICON = 'data:image/svg+xml;base64,' + btoa(
        '<svg xmlns="http://www.w3.org/2000/svg" viewBox="16 4 80 48">' +
        '<rect x="22" y="20" width="70" height="20" rx="9" fill="#fff" stroke="#3373cc" stroke-width="3"/>' +
        '<path d="M36 20 L44 9 H70 L78 20 Z" fill="#7db4ff"/><rect x="47" y="11" width="20" height="9" rx="2" fill="#e3f1ff"/>' +
        '<circle cx="84" cy="27" r="3" fill="#ffbf00"/><circle cx="38" cy="42" r="8" fill="#24324a"/>' +
        '<circle cx="76" cy="42" r="8" fill="#24324a"/></svg>');

    /** The few Scratch Link JSON-RPC calls we need; same messages as scratch-vm/src/io/ble.js. */
    class LinkClient {
        constructor (url, onCall, onClose) {
            this._url = url;
            this._onCall = onCall;
            this._onClose = onClose;
            this._nextId = 0; // scratch-vm's ids start at 0 too
            this._pending = new Map();
            this._ws = null;
        }

        open () {
            return new Promise((resolve, reject) => {
                const ws = new WebSocket(this._url);
                const timer = setTimeout(() => { ws.close(); reject(new Error('timeout')); }, RPC_TIMEOUT_MS);
                ws.onopen = () => { clearTimeout(timer); resolve(); };
                ws.onerror = () => { clearTimeout(timer); reject(new Error(`cannot reach ${this._url}`)); };
                ws.onclose = () => {
                    clearTimeout(timer);
                    for (const {reject: fail} of this._pending.values()) fail(new Error('closed'));
                    this._pending.clear();
                    if (this._ws === ws) { this._ws = null; this._onClose(); }
                };
                ws.onmessage = (event) => this._message(event.data);
                this._ws = ws;
            });
        }

        isOpen () {
            return !!this._ws && this._ws.readyState === 1;
        }

        close () {
            const ws = this._ws;
            this._ws = null; // a close we asked for is not a lost connection
            if (ws) ws.close();
        }

        request (method, params) {
            if (!this.isOpen()) return Promise.reject(new Error('not open'));
            const id = this._nextId++;
            return new Promise((resolve, reject) => {
                const timer = setTimeout(() => {
                    this._pending.delete(id);
                    reject(new Error(`${method}: no answer within ${RPC_TIMEOUT_MS} ms`));
                }, RPC_TIMEOUT_MS);
                this._pending.set(id, {
                    resolve: (v) => { clearTimeout(timer); resolve(v); },
                    reject: (e) => { clearTimeout(timer); reject(e); },
                });
                this._ws.send(JSON.stringify({jsonrpc: '2.0', id, method, params}));
            });
        }

        _message (text) {
            let msg;
            try { msg = JSON.parse(text); } catch (e) { return; }
            if (msg.method) {
                this._onCall(msg.method, msg.params || {});
                return;
            }
            const waiter = this._pending.get(msg.id);
            if (!waiter) return;
            this._pending.delete(msg.id);
            if (msg.error) {
                const err = new Error(msg.error.data || msg.error.message);
                err.code = msg.error.code;
                waiter.reject(err);
            } else {
                waiter.resolve(msg.result);
            }
        }
    }

    const toBase64 = (text) => btoa(unescape(encodeURIComponent(text)));
    const fromBase64 = (b64) => decodeURIComponent(escape(atob(b64)));
    const num = (value, fallback = 0) => {
        const n = Number(value);
        return Number.isFinite(n) ? n : fallback;
    };
    const round1 = (value) => Math.round(value * 10) / 10;

    class MikroDojo {
        constructor (runtime) {
            this.runtime = runtime;
            this._config = Object.assign({}, SERVED_CONFIG, Scratch.mikrodojo || {});
            this._link = null;
            this._connected = false;
            this._peripherals = {};
            this._scanTimer = null;
            this._pending = new Map(); // ref -> {resolve, target, timer}
            this._nextRef = 1;
            this._telemetry = null;
            this._telemetryCount = 0;
            this._lastReplyAt = 0; // _telemetryCount when the last block answered: readings wait for a newer one
            this._runStarting = false; // the green flag was clicked and the server has not said "started" yet
            this._freshWaiters = new Set();
            this._obstacleLatch = new Map(); // threshold -> latched (hysteresis for the hat)
            this._skills = [];
            this._level = null;
            this._catalog = null; // GET /api/catalog?level=N: which blocks are open, the level's defaults
            this._lessonBlocks = null; // the picked lesson's allowed block ids (the page tells us), or null
            this._wantCar = null; // connect to this car as soon as a scan finds it (a reassignment, the editor)
            this._movingUntil = 0; // Date.now() bound for reconnecting after the server said `server_moving`
            this._running = false; // a green-flag run is open on the server

            this._defineCommands();
            runtime.registerPeripheralExtension(EXTENSION_ID, this);
            // The red stop sign stops the car at once (and the blocks waiting on it finish).
            runtime.on('PROJECT_STOP_ALL', () => { this._stopCar(); this._endRun('stopped'); });
            // A green-flag program is a run: the server records it (a lesson attempt, when one is picked).
            runtime.on('PROJECT_START', () => {
                this._runStarting = this._connected; // readings wait: a lesson moves the car to its start first
                this._startRun();
            });
            runtime.on('PROJECT_RUN_STOP', () => this._endRun('finished'));
            runtime.on(EVENT.lesson, (lesson) => {
                this._lessonBlocks = lesson && lesson.allowedBlocks && lesson.allowedBlocks.length ? lesson.allowedBlocks : null;
                this._refreshPalette();
            });
            this._markLockedBlocks(runtime);
            if (this._config.token) this._loadCatalog();
        }

        /** Locked blocks stay in the palette as teasers, like Blockly's: disabled (they cannot be
         * dragged out) with "★ unlocks at level N" under them. scratch-vm builds the palette XML from
         * getInfo, which has no such flag, so the XML it hands the editor is adjusted here. */
        _markLockedBlocks (runtime) {
            if (typeof runtime.getBlocksXML !== 'function') return;
            const original = runtime.getBlocksXML.bind(runtime);
            runtime.getBlocksXML = (target) => original(target).map((category) => {
                if (category.id !== EXTENSION_ID) return category;
                let xml = category.xml;
                for (const [opcode, level] of Object.entries(this.lockedOpcodes())) {
                    const open = `<block type="${EXTENSION_ID}_${opcode}"`;
                    const at = xml.indexOf(open);
                    if (at < 0) continue;
                    const end = xml.indexOf('</block>', at) + '</block>'.length;
                    xml = `${xml.slice(0, at)}${open} disabled="true"${xml.slice(at + open.length, end)}` +
                        `<label text="${LOCKED_LABEL(level)}" web-class="dojo-locked-label"></label>${xml.slice(end)}`;
                }
                return Object.assign({}, category, {xml});
            });
        }

        /** opcode -> the level it opens at, for the blocks this kid's level does not have yet (the editor
         * greys these in the palette). */
        lockedOpcodes () {
            const out = {};
            const rows = new Map(((this._catalog && this._catalog.blocks) || []).map((b) => [b.id, b]));
            for (const [opcode, call] of Object.entries(BLOCK_TABLE.calls || {})) {
                const row = rows.get(call.block);
                if (row && row.locked) out[opcode] = row.unlocks_at;
            }
            return out;
        }

        _refreshPalette () {
            const manager = Scratch.vm && Scratch.vm.extensionManager;
            if (manager && manager.isExtensionLoaded(EXTENSION_ID)) manager.refreshBlocks();
        }

        /** One method per command opcode of the table: it sends that block call and waits for the car. */
        _defineCommands () {
            if (!BLOCK_TABLE.blocks || !BLOCK_TABLE.blocks.length) {
                throw new Error('MIKRO-DOJO has no blocks: load it from the classroom server, ' +
                    'e.g. http://localhost:8000/scratch/extension.js');
            }
            for (const info of BLOCK_TABLE.blocks) {
                if (info === '---') continue;
                if (info.blockType === 'command') {
                    this[info.opcode] = (args, util) => {
                        const call = this.blockCall(info.opcode, args);
                        return this._command(util, call.block, call.args);
                    };
                } else if (typeof this[info.opcode] !== 'function') {
                    // reporters and hats read telemetry here: a new one needs its method in this file
                    throw new Error(`MIKRO-DOJO: no method for the ${info.blockType} ${info.opcode} in mikrodojo.js`);
                }
            }
        }

        /** The block call an opcode sends for Scratch's arguments: {block, args} (numbers, menu choices). */
        blockCall (opcode, args) {
            const call = BLOCK_TABLE.calls[opcode];
            const out = Object.assign({}, call.fixed);
            for (const [arg, [param, kind]] of Object.entries(call.args)) {
                const value = args[arg];
                out[param] = kind === 'number' ? num(value) : kind === 'menu' ? String(value).toLowerCase() : String(value);
            }
            return {block: call.block, args: out};
        }

        getInfo () {
            return {
                id: EXTENSION_ID,
                name: 'MIKRO-DOJO',
                // The Blockly app's car blocks are these colours too (curriculum/catalog.py BLOCKLY_COLOURS).
                color1: '#4C97FF',
                color2: '#4280D7',
                color3: '#3373CC',
                menuIconURI: ICON,
                blockIconURI: ICON,
                showStatusButton: true,
                blocks: this._paletteBlocks(),
                menus: BLOCK_TABLE.menus,
            };
        }

        /** The table's blocks as this kid's level sees them: the level's defaults (a speed never above
         * its top speed), open blocks first and the locked ones after them; in a lesson only its blocks. */
        _paletteBlocks () {
            const rows = new Map(((this._catalog && this._catalog.blocks) || []).map((b) => [b.id, b]));
            const lesson = this._lessonBlocks;
            const open = [];
            const locked = [];
            for (const info of BLOCK_TABLE.blocks) {
                if (info === '---') {
                    if (open.length && open[open.length - 1] !== '---') open.push('---');
                    continue;
                }
                const call = (BLOCK_TABLE.calls || {})[info.opcode];
                const row = call && rows.get(call.block);
                const shown = Object.assign({}, info, {arguments: Object.assign({}, info.arguments)});
                for (const [arg, spec] of Object.entries(shown.arguments)) {
                    const param = row && call.args[arg] && row.params.find((p) => p.name === call.args[arg][0]);
                    if (param && param.kind === 'number') shown.arguments[arg] = Object.assign({}, spec, {defaultValue: param.default});
                }
                if (lesson && call && call.block !== 'stop' && !lesson.includes(call.block)) shown.hideFromPalette = true;
                (row && row.locked && !lesson ? locked : open).push(shown);
            }
            while (open[open.length - 1] === '---') open.pop();
            return locked.length ? [...open, '---', ...locked] : open;
        }

        // --- where the server is and who the kid is ------------------------------------------------

        _server () {
            return (this._config.server || FALLBACK_SERVER).replace(/\/$/, '');
        }

        async _ensureJoined () {
            if (this._config.token) return;
            let {classCode, name} = this._config;
            if ((!classCode || !name) && typeof prompt === 'function') {
                classCode = classCode || prompt('MIKRO-DOJO: what is your class code?');
                name = name || prompt('MIKRO-DOJO: what is your first name?');
            }
            if (!classCode || !name) throw new Error('join: class code and first name needed');
            const post = (rejoin) => fetch(`${this._server()}/api/join`, {
                method: 'POST',
                headers: {'Content-Type': 'application/json'},
                body: JSON.stringify({class_code: classCode, name, rejoin}),
            });
            let res = await post(false);
            let body = await res.json().catch(() => ({}));
            if (res.status === 409 && body.error && body.error.rule === 'same_name' && typeof confirm === 'function' &&
                confirm(`There is already a ${body.error.value || name} in this class. Is that you?`)) {
                res = await post(true); // "is that you?" -> yes: the same kid again
                body = await res.json().catch(() => ({}));
            }
            if (!res.ok || !body.token) {
                // Ask again next time (a typo in the code or the name is the usual reason) and say why.
                this._config.classCode = this._config.name = null;
                const why = (body.error && body.error.message) || `the classroom said ${res.status}`;
                if (typeof alert === 'function') alert(`MIKRO-DOJO could not join: ${why}. Click the dot to try again.`);
                throw new Error(why);
            }
            Object.assign(this._config, {token: body.token, level: body.level, carId: body.car_id});
            this._loadCatalog();
        }

        async _loadCatalog (level) {
            try {
                const lvl = level || this._level || this._config.level || '';
                const res = await fetch(`${this._server()}/api/catalog${lvl ? `?level=${lvl}` : ''}`);
                const catalog = await res.json();
                this._catalog = catalog;
                // The level's skills; a level without any shows what unlocks next, as a teaser.
                const skills = (catalog.skills || []).filter((s) => s && s.name);
                const open = skills.filter((s) => !s.locked);
                this._skills = (open.length ? open : skills).map((s) => ({
                    value: s.name,
                    text: s.locked ? `${s.text || s.name} (level ${s.unlocks_at})` : (s.text || s.name),
                }));
            } catch (e) {
                this._skills = [];
            }
            this._refreshPalette();
        }

        skillMenu () {
            return this._skills.length ? this._skills : [{text: 'slalom', value: 'slalom'}];
        }

        // --- the device dialog (runtime.registerPeripheralExtension) ---------------------------------

        scan () {
            this._closeLink();
            this._peripherals = {};
            this._ensureJoined()
                .then(() => this._openLink())
                .then(() => {
                    this._scanTimer = setTimeout(() => this.runtime.emit('PERIPHERAL_SCAN_TIMEOUT'), SCAN_TIMEOUT_MS);
                    return this._link.request('discover', {filters: [{services: [SERVICE_ID]}]});
                })
                .catch(() => this._scanFailed());
        }

        _scanFailed () {
            if (Date.now() < this._movingUntil) { // the server is moving: try again, quietly
                this._scanTimer = setTimeout(() => this.scan(), SERVER_MOVING_RETRY_EVERY_MS);
                return;
            }
            this.runtime.emit('PERIPHERAL_REQUEST_ERROR', {message: 'Scratch lost connection to', extensionId: EXTENSION_ID});
        }

        connect (peripheralId) {
            if (!this._link) return;
            this._link.request('connect', {peripheralId})
                .then(() => this._link.request('startNotifications', {serviceId: SERVICE_ID, characteristicId: EVENTS_CHAR_ID}))
                .then(() => {
                    this._connected = true;
                    this._carId = peripheralId;
                    this._movingUntil = 0;
                    this.runtime.emit('PERIPHERAL_CONNECTED');
                })
                .catch(() => {
                    if (Date.now() < this._movingUntil) { // the car is not back yet: scan for it again
                        this._wantCar = peripheralId;
                        this._scanFailed();
                        return;
                    }
                    this.runtime.emit('PERIPHERAL_REQUEST_ERROR', {message: 'Scratch lost connection to', extensionId: EXTENSION_ID});
                });
        }

        disconnect () {
            this._wantCar = null;
            this._movingUntil = 0;
            this._closeLink();
            this.runtime.emit('PERIPHERAL_DISCONNECTED');
        }

        /** Scan and connect to this car as soon as it shows up (no dialog): the editor does this at start,
         * and the extension itself when the teacher gives the kid another car. Without a car id: the
         * scan stays open and the first car the teacher gives the kid is connected. */
        connectTo (carId) {
            this._wantCar = carId || ANY_CAR;
            this.scan();
        }

        isConnected () {
            return this._connected;
        }

        _openLink () {
            const url = `${this._server().replace(/^http/, 'ws')}/scratch/ble?token=${encodeURIComponent(this._config.token)}`;
            this._link = new LinkClient(url, (method, params) => this._didReceiveCall(method, params), () => this._lost());
            return this._link.open();
        }

        _closeLink () {
            clearTimeout(this._scanTimer);
            const wasConnected = this._connected;
            this._connected = false;
            if (this._link) this._link.close();
            this._link = null;
            this._telemetry = null;
            this._running = false; // the server ends the run when the socket goes
            if (wasConnected) this._finishAll(null);
        }

        _lost () {
            const wasConnected = this._connected;
            const next = this._switchTo;
            this._switchTo = undefined;
            if (next !== undefined) { // the teacher changed the car: not a loss, the kid drives the new one
                this._finishAll({status: 'cancelled'});
                this._closeLink();
                this.runtime.emit('PERIPHERAL_DISCONNECTED');
                this.connectTo(next);
                return;
            }
            this._closeLink();
            if (wasConnected) {
                this.runtime.emit('PERIPHERAL_DISCONNECTED'); // the status dot turns orange again
                // Scratch's own "lost connection" alert, with its Reconnect button.
                this.runtime.emit('PERIPHERAL_CONNECTION_LOST_ERROR', {
                    message: 'Scratch lost connection to', extensionId: EXTENSION_ID});
            }
        }

        _didReceiveCall (method, params) {
            if (method === 'didDiscoverPeripheral') {
                clearTimeout(this._scanTimer);
                this._peripherals[params.peripheralId] = params;
                this.runtime.emit('PERIPHERAL_LIST_UPDATE', this._peripherals);
                if (this._wantCar === ANY_CAR || (this._wantCar && params.peripheralId === this._wantCar)) {
                    this._wantCar = null;
                    this.connect(params.peripheralId);
                }
            } else if (method === 'characteristicDidChange') {
                let payload;
                try { payload = JSON.parse(fromBase64(params.message)); } catch (e) { return; }
                this._payload(payload);
            }
        }

        _payload (p) {
            if (p.type === 'telemetry') {
                this._telemetry = p;
                this._telemetryCount += 1;
                if (!this._runStarting) for (const wake of Array.from(this._freshWaiters)) wake();
            } else if (p.type === 'result') {
                const waiter = this._pending.get(String(p.ref));
                if (waiter) this._finish(String(p.ref), p);
            } else if (p.type === 'run' && this._runStarting) {
                this._runStarting = false; // started (or refused): the next sample is from after it
                this._lastReplyAt = this._telemetryCount;
            }
            if (p.type === 'run' && p.status === 'refused') {
                const sprite = this.runtime.targets.find((t) => !t.isStage && t.isOriginal);
                this._say(sprite, p.kid_text);
                this.runtime.emit(EVENT.note, {blockId: null, kind: 'refused', text: p.kid_text, rule: p.rule || ''});
                this._running = false;
            } else if (p.type === 'level') {
                this._level = p.level;
                this._loadCatalog(p.level);
            } else if (p.type === 'skills') {
                this._loadCatalog(this._level); // a learned skill was promoted or rolled back
            } else if (p.type === 'car_changed') {
                // The socket closes next; _lost() then connects to the new car instead of raising the alarm.
                this._switchTo = p.car_id || null;
                this._config.carId = p.car_id || null;
                this.runtime.emit(EVENT.car, {carId: p.car_id || null, previous: p.previous || null, kidText: p.kid_text});
                const sprite = this.runtime.targets.find((t) => !t.isStage && t.isOriginal);
                if (!p.car_id) this._say(sprite, p.kid_text);
            } else if (p.type === 'server_moving') {
                // The server process is leaving (a restart, a balancer draining it): the socket closes
                // next and _lost() connects to the same car again, like after a car change, with no alarm.
                this._switchTo = p.car_id || this._config.carId || null;
                this._movingUntil = Date.now() + SERVER_MOVING_RETRY_MS;
            } else if (p.type === 'car_lost') {
                this._lost();
            }
        }

        // --- blocks ----------------------------------------------------------------------------------

        /** Send one block call; resolves when the car has finished (or the block was refused). */
        _command (util, block, args) {
            const target = util && util.target;
            // The block that asked: notes about it are shown next to it (the page around Scratch does that).
            const blockId = util && util.thread && typeof util.thread.peekStack === 'function' ? util.thread.peekStack() : null;
            if (!this._connected || !this._link) {
                this._say(target, TEXT.notConnected);
                this.runtime.emit(EVENT.note, {blockId, kind: 'failed', text: TEXT.notConnected, rule: 'not_connected'});
                return Promise.resolve();
            }
            const ref = `s${this._nextRef++}`;
            return new Promise((resolve) => {
                const timer = setTimeout(() => this._finish(ref, {status: 'timed_out', kid_text: TEXT.noAnswer}), BLOCK_TIMEOUT_MS);
                this._pending.set(ref, {resolve, target, timer, blockId});
                this.runtime.emit(EVENT.block, {blockId, state: 'start'});
                this._writeRaw({block, args, ref})
                    .catch((e) => this._finish(ref, {status: 'failed', kid_text: TEXT.noAnswer, detail: String(e.message)}));
            });
        }

        _finish (ref, result) {
            const waiter = this._pending.get(ref);
            if (!waiter) return;
            this._pending.delete(ref);
            clearTimeout(waiter.timer);
            const status = result && result.status;
            const problem = status !== 'done' && status !== 'cancelled';
            // A done block may carry a note the kid should read ("the wall was too close: I backed up").
            const note = status === 'done' && result.rule && result.kid_text;
            if ((problem || note) && result.kid_text) {
                this._say(waiter.target, result.kid_text);
                this.runtime.emit(EVENT.note, {blockId: waiter.blockId, kind: note ? 'note' : status,
                    text: result.kid_text, rule: result.rule || ''});
            }
            this.runtime.emit(EVENT.block, {blockId: waiter.blockId, state: 'end'});
            this._lastReplyAt = this._telemetryCount;
            waiter.resolve();
        }

        _finishAll (result) {
            for (const ref of Array.from(this._pending.keys())) {
                this._finish(ref, result || {status: 'failed', kid_text: TEXT.lost});
            }
        }

        _say (target, text) {
            if (!target) return;
            this.runtime.emit('SAY', target, 'say', text);
            setTimeout(() => {
                const bubble = target.getCustomState && target.getCustomState('Scratch.looks');
                if (bubble && bubble.text === text) this.runtime.emit('SAY', target, 'say', '');
            }, SAY_MS);
        }

        _stopCar () {
            if (!this._connected || !this._link) return;
            this._writeRaw({block: 'stop', args: {}, ref: `stop${this._nextRef++}`}).catch(() => {});
        }

        _writeRaw (payload) {
            const message = toBase64(JSON.stringify(payload));
            return this._link.request('write', {serviceId: SERVICE_ID, characteristicId: BLOCK_CHAR_ID, message, encoding: 'base64'});
        }

        _startRun () {
            if (!this._connected || !this._link) return;
            let program = null;
            try {
                // The project's code, without costumes and sounds: what the judge and the teacher read.
                const project = JSON.parse(Scratch.vm.toJSON());
                program = {
                    // comments too: a script from "Tell the car" says so in one (the attempt shows it)
                    targets: project.targets.map((t) => ({isStage: t.isStage, name: t.name, blocks: t.blocks,
                        variables: t.variables, comments: t.comments})),
                    extensions: project.extensions,
                    meta: project.meta,
                };
            } catch (e) {
                program = null;
            }
            // A giant project still runs; the server then records the run without its code.
            if (program && JSON.stringify(program).length > MAX_PROGRAM_CHARS) program = null;
            this._running = true;
            this._writeRaw({run: 'start', program, ref: `run${this._nextRef++}`}).catch(() => {});
        }

        _endRun (reason) {
            if (!this._running || !this._connected || !this._link) return;
            this._running = false;
            this._writeRaw({run: 'end', reason, ref: `run${this._nextRef++}`}).catch(() => {});
        }

        /** The latest telemetry once it is from after the last block's answer (or the run's start); a
         * Promise while it is not (scratch-vm waits for a reporter's Promise). */
        _fresh (read) {
            const ready = () => !this._runStarting && this._telemetryCount > this._lastReplyAt;
            if (!this._connected || ready()) return read(this._telemetry);
            return new Promise((resolve) => {
                const finish = () => {
                    clearTimeout(timer);
                    this._freshWaiters.delete(wake);
                    resolve(read(this._telemetry));
                };
                const wake = () => { if (ready()) finish(); };
                const timer = setTimeout(finish, this._runStarting ? RUN_START_WAIT_MS : FRESH_TELEMETRY_WAIT_MS);
                this._freshWaiters.add(wake);
            });
        }

        distance () {
            return this._fresh((t) => {
                const d = t && t.distance;
                return d === null || d === undefined ? NOTHING_AHEAD_CM : round1(d);
            });
        }

        positionX () {
            return this._fresh((t) => (t ? round1(t.x) : 0));
        }

        positionY () {
            return this._fresh((t) => (t ? round1(t.y) : 0));
        }

        heading () {
            return this._fresh((t) => (t ? round1(t.heading) : 0));
        }

        /** Edge-activated hat: true while an obstacle is near, re-armed once it is clearly further away. */
        whenObstacle (args) {
            const limit = num(args.DISTANCE, 20);
            const d = this._telemetry ? this._telemetry.distance : null;
            let latched = this._obstacleLatch.get(limit) || false;
            if (d !== null && d !== undefined && d < limit) latched = true;
            else if (d === null || d === undefined || d > limit + OBSTACLE_HYSTERESIS_CM) latched = false;
            this._obstacleLatch.set(limit, latched);
            return latched;
        }
    }

    if (!Scratch.extensions.unsandboxed) {
        // Sandboxed (TurboWarp's default for URLs other than http://localhost:8000/...) there is no
        // device dialog and no Scratch.vm: say so instead of failing somewhere less clear.
        throw new Error('MIKRO-DOJO must run without the sandbox: load it from http://localhost:8000/scratch/extension.js ' +
            'or tick "Run extension without sandbox"');
    }
    Scratch.extensions.register(new MikroDojo(Scratch.vm.runtime));
})(Scratch);
