// A small `Scratch` global, so the TurboWarp-format extension file (mikrodojo.js) runs unchanged on a
// plain scratch-vm: in the editor page we serve (prebuilt scratch-gui) and in headless Node tests.
// It offers what the extension uses: Scratch.vm, the BlockType/ArgumentType names and
// Scratch.extensions.register, which registers the object the way TurboWarp does for unsandboxed
// extensions (in the VM's own thread, as an internal extension service).
(function (root, factory) {
    if (typeof module === 'object' && module.exports) module.exports = factory();
    else root.MikroDojoShim = factory();
}(typeof self !== 'undefined' ? self : this, function () {
    'use strict';

    // The strings scratch-vm's extension-support/block-type.js and argument-type.js define.
    const BlockType = Object.freeze({
        BOOLEAN: 'Boolean', BUTTON: 'button', COMMAND: 'command', CONDITIONAL: 'conditional',
        EVENT: 'event', HAT: 'hat', LOOP: 'loop', REPORTER: 'reporter',
    });
    const ArgumentType = Object.freeze({
        ANGLE: 'angle', BOOLEAN: 'Boolean', COLOR: 'color', NUMBER: 'number', STRING: 'string',
        MATRIX: 'matrix', NOTE: 'note', IMAGE: 'image',
    });
    const TargetType = Object.freeze({SPRITE: 'sprite', STAGE: 'stage'});

    /** The `Scratch` object for one VM. `config` is {server, token, ...} for the extension. */
    function makeScratch (vm, config) {
        const registered = [];
        return {
            vm,
            runtime: vm.runtime,
            BlockType,
            ArgumentType,
            TargetType,
            mikrodojo: config || {},
            extensions: {
                unsandboxed: true,
                registered,
                register (extension) {
                    const id = extension.getInfo().id;
                    const manager = vm.extensionManager;
                    if (manager.isExtensionLoaded(id)) return; // one instance per VM, like TurboWarp
                    const serviceName = manager._registerInternalExtension(extension);
                    // Marks it loaded, so projects that use its blocks load without fetching it again.
                    manager._loadedExtensions.set(id, serviceName);
                    registered.push(extension);
                },
            },
        };
    }

    /** Run the extension's source text against a VM; returns the registered extension object. */
    function loadExtensionSource (vm, config, source) {
        const Scratch = makeScratch(vm, config);
        // The file is `(function (Scratch) {...})(Scratch);`: give it our object as that name.
        new Function('Scratch', source)(Scratch); // eslint-disable-line no-new-func
        return Scratch.extensions.registered[0];
    }

    return {BlockType, ArgumentType, TargetType, makeScratch, loadExtensionSource};
}));
