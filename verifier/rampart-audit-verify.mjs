#!/usr/bin/env node
// Rampart audit verifier: checks an audit bundle offline. Usage: node rampart-audit-verify.mjs --help
import fs from "node:fs";
import readline from "node:readline";
import crypto, { createHash, createPublicKey, verify } from "node:crypto";
// src/shared/canonical-json.ts
/**
* JSON with the keys of every object in sorted order, so that equal values always give the same
* text, whoever built them and in whatever order: what a hash or a comparison of structures needs.
* Keys whose value is undefined are left out, as JSON.stringify leaves them out.
*/
function canonicalJson(value) {
	if (Array.isArray(value)) return `[${value.map((v) => v === void 0 ? "null" : canonicalJson(v)).join(",")}]`;
	if (value !== null && typeof value === "object") {
		const record = value;
		return `{${Object.keys(record).filter((k) => record[k] !== void 0).sort().map((k) => `${JSON.stringify(k)}:${canonicalJson(record[k])}`).join(",")}}`;
	}
	return JSON.stringify(value) ?? "null";
}
function leafHash(entry) {
	const bytes = Buffer.allocUnsafe(1 + entry.length);
	bytes[0] = 0;
	entry.copy(bytes, 1);
	return sha256(bytes);
}
function nodeHash(left, right) {
	const bytes = Buffer.allocUnsafe(1 + left.length + right.length);
	bytes[0] = 1;
	left.copy(bytes, 1);
	right.copy(bytes, 1 + left.length);
	return sha256(bytes);
}
/**
* One-shot SHA-256 where Node has it (20.12 and later): a tree hashes twice per leaf on average,
* and a Hash object per call costs more than the hashing of 33 or 65 bytes.
*/
var hashOnce$1 = crypto.hash;
function sha256(bytes) {
	return hashOnce$1 ? hashOnce$1("sha256", bytes, "buffer") : createHash("sha256").update(bytes).digest();
}
var EMPTY_ROOT = createHash("sha256").digest();
/**
* The root of a growing tree without holding its leaves: the roots of the perfect subtrees that
* make up the tree so far (one per set bit of its size), which is all a tree head needs. Memory
* stays logarithmic however long the log grows.
*/
var MerkleAccumulator = class MerkleAccumulator {
	stack = [];
	count = 0;
	/**
	* A tree of `size` leaves known only by its frontier (the roots of its perfect subtrees, largest
	* first, one per set bit of the size): how a log continues past entries archived elsewhere.
	*/
	static fromFrontier(size, frontier) {
		let bits = 0;
		for (let n = size; n > 0; n = Math.floor(n / 2)) bits += n % 2;
		if (!Number.isSafeInteger(size) || size < 0 || frontier.length !== bits || frontier.some((node) => node.length !== 32)) throw new Error("a frontier holds one 32-byte node per set bit of the size");
		const tree = new MerkleAccumulator();
		tree.stack.push(...frontier.map((node) => Buffer.from(node)));
		tree.count = size;
		return tree;
	}
	/** The roots of the perfect subtrees that make up the tree, largest first. */
	frontier() {
		return this.stack.map((node) => Buffer.from(node));
	}
	get size() {
		return this.count;
	}
	push(leaf) {
		let node = leaf;
		for (let n = this.count; n % 2 === 1; n = Math.floor(n / 2)) node = nodeHash(this.stack.pop(), node);
		this.stack.push(node);
		this.count += 1;
	}
	root() {
		if (this.stack.length === 0) return Buffer.from(EMPTY_ROOT);
		let node = this.stack.at(-1);
		for (let i = this.stack.length - 2; i >= 0; i--) node = nodeHash(this.stack[i], node);
		return node;
	}
};
// src/audit/entry.ts
/** The hash before the first entry. */
var GENESIS_HASH = Buffer.alloc(32);
/** The format version inside every entry's canonical bytes, so the format can change without ambiguity. */
var FORMAT = 1;
function canonicalText(seq, tail) {
	return `[${FORMAT},${seq}${tail}`;
}
/** Everything of the canonical text after the sequence number. */
function canonicalTail(entry) {
	return tailOfStored({
		time: entry.time,
		actorKind: entry.actorKind,
		actorId: entry.actorId,
		sessionId: entry.sessionId,
		sourceAddress: entry.sourceAddress,
		userAgent: entry.userAgent,
		channel: entry.channel,
		action: entry.action,
		recordType: entry.recordType,
		recordIds: canonicalJson(entry.recordIds),
		fields: canonicalJson(entry.fields),
		outcome: entry.outcome,
		requestId: entry.requestId,
		details: canonicalJson(entry.details)
	});
}
/** The tail from an entry's text fields and the canonical JSON text of its lists and details. */
function tailOfStored(e) {
	const q = (value) => value === null ? "null" : JSON.stringify(value);
	return `,${q(e.time)},${q(e.actorKind)},${q(e.actorId)},${q(e.sessionId)},${q(e.sourceAddress)},${q(e.userAgent)},${q(e.channel)},${q(e.action)},${q(e.recordType)},${e.recordIds},${e.fields},${q(e.outcome)},${q(e.requestId)},${e.details}]`;
}
var hashOnce = crypto.hash;
/** SHA-256(previous hash ‖ UTF-8 of the canonical text), one-shot where Node has it (20.12+). */
function chainHash(previous, text) {
	if (previous.length !== 32) throw new Error("a previous hash is 32 bytes");
	if (!hashOnce) return createHash("sha256").update(previous).update(text, "utf8").digest();
	const bytes = Buffer.allocUnsafe(32 + Buffer.byteLength(text, "utf8"));
	previous.copy(bytes, 0);
	bytes.write(text, 32, "utf8");
	return hashOnce("sha256", bytes, "buffer");
}
// src/audit/checkpoint.ts
/**
* Signed checkpoints of the audit log, in the formats transparency logs share, so that tools made
* for them can check Rampart's too:
*
* - the note (C2SP signed-note): a text ending in a newline, a blank line, then one line per
*   signature, `— <key name> <base64 of key id ‖ Ed25519 signature>`;
* - the checkpoint (C2SP tlog-checkpoint) as the text: the log's origin, the tree size and the
*   base64 tree head, one per line, here followed by a `time <ISO-8601>` line.
*
* The signing key is Ed25519 and belongs to the audit log alone, apart from every data key.
*/
var ALG_ED25519 = 1;
var EM_DASH_PREFIX = "— ";
Buffer.from("302e020100300506032b657004220420", "hex");
var SPKI_ED25519 = Buffer.from("302a300506032b6570032100", "hex");
var NoteError = class extends Error {
	name = "NoteError";
};
/** A key's name must be usable in a note's signature line: printable, no spaces or plus signs. */
function checkName(name) {
	if (name.length === 0 || name.length > 200 || /[\s+\u0000-\u001f\u007f]/.test(name)) throw new NoteError("a key name is printable text without spaces or plus signs");
}
/** The 4-byte key id: the start of SHA-256(name ‖ "\n" ‖ 0x01 ‖ public key). */
function keyId(name, publicKey) {
	return createHash("sha256").update(name).update("\n").update(Buffer.from([ALG_ED25519])).update(publicKey).digest().readUInt32BE(0);
}
var hex8 = (id) => id.toString(16).padStart(8, "0");
function parseVerifierKey(text) {
	const parts = text.split("+");
	if (parts.length < 3) throw new NoteError("not a verifier key");
	const [name, idHex] = [parts[0], parts[1]];
	checkName(name);
	const raw = Buffer.from(parts.slice(2).join("+"), "base64");
	if (raw.length !== 33 || raw[0] !== ALG_ED25519 || !/^[0-9a-f]{8}$/.test(idHex)) throw new NoteError("not an Ed25519 verifier key");
	const pub = raw.subarray(1);
	if (hex8(keyId(name, pub)) !== idHex) throw new NoteError("the verifier key does not match its id");
	return {
		name,
		id: parseInt(idHex, 16),
		key: createPublicKey({
			key: Buffer.concat([SPKI_ED25519, pub]),
			format: "der",
			type: "spki"
		})
	};
}
/** Checks a note's signature by this verifier key and answers its text; any other signature lines are ignored. */
function openNote(note, verifierKey) {
	const verifier = parseVerifierKey(verifierKey);
	const split = note.lastIndexOf("\n\n");
	if (split < 0 || !note.endsWith("\n")) throw new NoteError("not a signed note");
	const text = note.slice(0, split + 1);
	for (const line of note.slice(split + 2, -1).split("\n")) {
		if (!line.startsWith(EM_DASH_PREFIX)) throw new NoteError("a signature line is malformed");
		const [name, b64, extra] = line.slice(2).split(" ");
		if (extra !== void 0 || !name || !b64) throw new NoteError("a signature line is malformed");
		const blob = Buffer.from(b64, "base64");
		if (name !== verifier.name || blob.length < 4 || blob.readUInt32BE(0) !== verifier.id) continue;
		if (verify(null, Buffer.from(text, "utf8"), verifier.key, blob.subarray(4))) return text;
		throw new NoteError("the signature does not verify");
	}
	throw new NoteError("the note carries no signature by this key");
}
function parseCheckpoint(text) {
	const [origin, size, root, time] = text.split("\n");
	if (!origin || !/^\d{1,19}$/.test(size ?? "") || !root || !time?.startsWith("time ")) throw new NoteError("not a checkpoint");
	const rootHash = Buffer.from(root, "base64");
	if (rootHash.length !== 32) throw new NoteError("not a checkpoint");
	return {
		origin,
		size: Number(size),
		rootHash,
		time: time.slice(5)
	};
}
/**
* The notes in a file of checkpoints as the server appends them: each note, then a blank line. A
* note's own blank line separates its text from its signature lines, which start with an em dash.
*/
function splitNotes(text) {
	const notes = [];
	let current = [];
	let signed = false;
	for (const line of text.replace(/\r\n/g, "\n").split("\n")) if (line.startsWith(EM_DASH_PREFIX)) {
		current.push(line);
		signed = true;
	} else if (line === "") {
		if (signed) {
			notes.push(`${current.join("\n")}\n`);
			current = [];
			signed = false;
		} else if (current.length > 0) current.push(line);
	} else {
		if (signed) {
			notes.push(`${current.join("\n")}\n`);
			current = [];
			signed = false;
		}
		current.push(line);
	}
	if (signed) notes.push(`${current.join("\n")}\n`);
	return notes;
}
// src/audit/verify.ts
/**
* How far from its stored place an entry's own hash is looked for: renumbering after entries were
* inserted or deleted. Looked for first at the shift the entry before it had, so a renumbered run
* costs one hash an entry; only damaged entries pay for the search.
*/
var MAX_SHIFT = 32;
var MAX_PROBLEMS = 100;
var ChainVerifier = class {
	tree;
	problems = [];
	pending = null;
	tip;
	tipBefore = null;
	/** An entry found standing before the one it follows; the chain goes on from it once its partner is seen. */
	reorderedAhead = null;
	nextCheckpoint = 0;
	/** The size the head records, known at `finish`. */
	headSize = null;
	lastSeq = 0;
	checkpoints;
	/**
	* `start`: where the rows begin (after entries archived elsewhere): the last entry before them,
	* its hash and the tree's frontier there. By default the genesis of the log.
	*/
	constructor(checkpoints = [], start = {
		seq: 0,
		hash: GENESIS_HASH.toString("hex"),
		frontier: []
	}) {
		this.checkpoints = [...checkpoints].sort((a, b) => a.size - b.size);
		this.tip = {
			seq: start.seq,
			origin: start.seq,
			hash: start.hash
		};
		this.lastSeq = start.seq;
		this.tree = MerkleAccumulator.fromFrontier(start.seq, start.frontier.map((node) => Buffer.from(node, "hex")));
		while (this.nextCheckpoint < this.checkpoints.length && this.checkpoints[this.nextCheckpoint].size <= start.seq) {
			const c = this.checkpoints[this.nextCheckpoint];
			if (c.size === start.seq && start.seq > 0 && this.tree.root().toString("hex") !== c.root) this.report("rewritten", start.seq, `the archived part no longer gives the tree head signed at size ${c.size}`);
			this.nextCheckpoint += 1;
		}
	}
	/**
	* An entry whose fields went into an archive file, known here by its hash alone: it extends the
	* tree and the chain, and its fields are checked where they are, in the file.
	*/
	pushArchived(seq, entryHash) {
		if (this.pending) this.judge(this.pending, null);
		this.pending = null;
		if (seq !== this.lastSeq + 1) this.report("deleted", this.lastSeq + 1, `archived entry ${this.lastSeq + 1} is missing its hash`);
		this.tipBefore = this.tip;
		this.tip = {
			seq,
			origin: seq,
			hash: entryHash
		};
		this.lastSeq = seq;
		this.tree.push(leafHash(Buffer.from(entryHash, "hex")));
		this.passCheckpoints(seq);
	}
	passCheckpoints(seq) {
		while (this.nextCheckpoint < this.checkpoints.length && this.checkpoints[this.nextCheckpoint].size <= this.tree.size) {
			const c = this.checkpoints[this.nextCheckpoint];
			if (c.size === this.tree.size && this.tree.root().toString("hex") !== c.root) this.report("rewritten", seq, `the log no longer gives the tree head signed at size ${c.size}`);
			this.nextCheckpoint += 1;
		}
	}
	get size() {
		return this.tree.size;
	}
	/** The hash of the last row, hex. */
	get lastHash() {
		return this.pending?.row.entryHash ?? this.tip.hash;
	}
	/**
	* Whether the last row pushed holds up on its own and follows the chain. It is judged in full
	* only once the row after it arrives (or at `finish`); a signer asks this before signing.
	*/
	get lastRowHolds() {
		const last = this.pending;
		return !last || last.origin === last.row.seq && last.row.prevHash === this.tip.hash;
	}
	report(kind, seq, detail) {
		if (seq !== null && this.problems.some((p) => p.kind === kind && p.seq === seq)) return;
		if (this.problems.length < MAX_PROBLEMS) this.problems.push({
			kind,
			seq,
			detail
		});
	}
	push(row) {
		const before = this.pending ?? null;
		const shift = before && before.origin !== null ? before.origin - before.row.seq : this.tip.origin - this.tip.seq;
		const stored = Buffer.from(row.entryHash, "hex");
		const judged = {
			row,
			origin: originOf(row, stored, shift)
		};
		if (this.pending) this.judge(this.pending, judged);
		this.pending = judged;
		this.lastSeq = row.seq;
		this.tree.push(leafHash(stored));
		this.passCheckpoints(row.seq);
	}
	/**
	* Ends the walk: the last row is judged, and the log's length is compared with its head (the row
	* every append updates) and with every checkpoint.
	*/
	finish(head) {
		this.headSize = head?.size ?? null;
		if (this.pending) this.judge(this.pending, null);
		this.pending = null;
		if (head) {
			if (head.size > this.lastSeq) this.report("truncated", this.lastSeq + 1, `the head records ${head.size} entries; the log ends at ${this.lastSeq}`);
			else if (head.size < this.lastSeq) this.report("inserted", head.size + 1, `the head records ${head.size} entries; the log holds entries up to ${this.lastSeq}`);
			else if (head.size > 0 && head.hash !== this.tip.hash) this.report("modified", head.size, "the last entry is not the one the head records");
		}
		for (const c of this.checkpoints.slice(this.nextCheckpoint)) if (c.size > this.tree.size) this.report("truncated", null, `a checkpoint was signed at size ${c.size}, but the log holds ${this.tree.size} entries`);
	}
	/**
	* Checks each checkpoint note: signed by the audit key, saying the size and root stored with it.
	* Answers the largest tree size a good signature covers (0 for none): how much of the log the
	* key vouches for, beyond the chain holding together.
	*/
	checkSignatures(notes, verifierKey) {
		let signedUpTo = 0;
		for (const c of notes) try {
			const signed = parseCheckpoint(openNote(c.note, verifierKey));
			if (signed.size !== c.size || signed.rootHash.toString("hex") !== c.root) this.report("bad_signature", null, `the checkpoint at size ${c.size} does not say what its note says`);
			else if (c.size <= this.tree.size) signedUpTo = Math.max(signedUpTo, c.size);
		} catch (error) {
			if (!(error instanceof NoteError)) throw error;
			this.report("bad_signature", null, `${c.size > 0 ? `the checkpoint at size ${c.size}` : "a checkpoint given"} is not signed by the audit key`);
		}
		return signedUpTo;
	}
	/** Judges one row once the row after it is known (null at the end). */
	judge(item, after) {
		const seq = item.row.seq;
		const tip = this.tip;
		const advance = () => {
			this.tipBefore = this.tip;
			this.tip = {
				seq,
				origin: item.origin ?? seq,
				hash: item.row.entryHash
			};
		};
		if (this.reorderedAhead) {
			const ahead = this.reorderedAhead;
			this.reorderedAhead = null;
			if (item.row.prevHash === tip.hash) {
				this.tipBefore = tip;
				this.tip = {
					seq: ahead.row.seq,
					origin: ahead.origin,
					hash: ahead.row.entryHash
				};
				return;
			}
		}
		if (item.origin === null) {
			if (seq > tip.seq + 1) this.report("deleted", tip.seq + 1, seq - 1 === tip.seq + 1 ? `entry ${tip.seq + 1} is missing` : `entries ${tip.seq + 1} to ${seq - 1} are missing`);
			if (after && after.row.prevHash === item.row.entryHash) {
				this.report("modified", seq, "its fields were changed after it was written");
				advance();
			} else if (after && after.row.prevHash === tip.hash) this.report("inserted", seq, "it is not part of the chain: the entry after it follows the one before it");
			else if (!after && this.headSize !== null && seq > this.headSize) this.report("inserted", seq, `it was added after the last entry the head records (${this.headSize})`);
			else {
				this.report("modified", seq, "its fields were changed after it was written");
				advance();
			}
			return;
		}
		if (item.row.prevHash === tip.hash && item.origin === tip.origin + 1) {
			advance();
			return;
		}
		if (after && after.origin !== null && item.row.prevHash === after.row.entryHash) {
			this.report("reordered", seq, `it was written as entry ${item.origin} and stands before entry ${after.origin}, which it follows`);
			this.reorderedAhead = item;
			return;
		}
		if (item.origin > tip.origin + 1) {
			const from = tip.origin + 1;
			const to = item.origin - 1;
			this.report("deleted", from, from === to ? `entry ${from} is missing` : `entries ${from} to ${to} are missing`);
			advance();
			return;
		}
		if (this.tipBefore && item.row.prevHash === this.tipBefore.hash && item.origin === this.tipBefore.origin + 1) {
			this.report("inserted", tip.seq, "it is not part of the chain: the entry after it follows the one before it");
			this.tip = this.tipBefore;
			advance();
			return;
		}
		this.report("modified", tip.seq > 0 && tip.seq !== seq ? tip.seq : seq, "it was rewritten after it was written: the entry after it names another hash");
		advance();
	}
};
/**
* The sequence number under which the row's hash covers its fields: its own, the one the shift of
* the entry before it gives, or a near one after renumbering.
*/
function originOf(row, stored, shift) {
	const previous = Buffer.from(row.prevHash, "hex");
	if (previous.length !== 32 || stored.length !== 32) return null;
	const seq = row.seq;
	if (row.tail !== void 0 && chainHash(previous, canonicalText(seq + shift, row.tail)).equals(stored)) return seq + shift;
	const tail = canonicalTail(row.entry);
	const tried = /* @__PURE__ */ new Set();
	const covers = (candidate) => {
		if (candidate < 1 || tried.has(candidate)) return false;
		tried.add(candidate);
		return chainHash(previous, canonicalText(candidate, tail)).equals(stored);
	};
	if (covers(seq + shift)) return seq + shift;
	if (covers(seq)) return seq;
	for (let d = 1; d <= MAX_SHIFT; d++) {
		if (covers(seq + shift + d)) return seq + shift + d;
		if (covers(seq + shift - d)) return seq + shift - d;
	}
	return null;
}
var BundleError = class extends Error {
	name = "BundleError";
};
/**
* Verifies a bundle read line by line. `kept` are checkpoints the auditor holds from elsewhere
* (the server's file or webhook sink); `verifierKey` is the key they were given, which wins over
* the bundle's own.
*/
async function verifyBundle(lines, options = {}) {
	let header = null;
	const checkpoints = [...options.kept ?? []];
	let verifier = null;
	let number = 0;
	for await (const text of lines) {
		number += 1;
		if (text.trim() === "") continue;
		let line;
		try {
			line = JSON.parse(text);
		} catch {
			throw new BundleError(`line ${number} is not JSON`);
		}
		if (typeof line !== "object" || line === null || Array.isArray(line)) throw new BundleError(`line ${number} is not an object`);
		if (line.bundle) {
			if (header || number !== 1) throw new BundleError(`line ${number}: the bundle header belongs on the first line, once`);
			if (line.bundle.format !== "rampart-audit-bundle" || line.bundle.version !== 1) throw new BundleError("not a Rampart audit bundle of a version this verifier reads");
			header = line.bundle;
		} else if (!header) throw new BundleError("the bundle has no header line");
		else if (line.checkpoint) {
			if (verifier) throw new BundleError(`line ${number}: checkpoints come before the rows`);
			checkpoints.push(checkCheckpoint(line.checkpoint, number));
		} else if (line.row) {
			verifier ??= startVerifier(header, checkpoints);
			verifier.push(checkRow(line.row, number));
		} else throw new BundleError(`line ${number} is neither a header, a checkpoint nor a row`);
	}
	if (!header) throw new BundleError("the bundle has no header line");
	verifier ??= startVerifier(header, checkpoints);
	verifier.finish(header.head);
	const key = options.verifierKey ?? header.verifierKey;
	const signedUpTo = key ? verifier.checkSignatures(checkpoints, key) : 0;
	return {
		header,
		entries: verifier.size,
		rootHash: verifier.tree.root().toString("hex"),
		checkpoints: checkpoints.length,
		signedUpTo,
		problems: verifier.problems
	};
}
/**
* A bundle that starts after archived entries starts from the tree's frontier there; a checkpoint
* signed at exactly that size, in the bundle, vouches for it (the verifier compares its root).
*/
function startVerifier(header, checkpoints) {
	const start = header.start;
	if (!start) return new ChainVerifier(checkpoints);
	if (!Number.isSafeInteger(start.seq) || typeof start.hash !== "string" || !Array.isArray(start.frontier)) throw new BundleError("the bundle header has a malformed start");
	let verifier;
	try {
		verifier = new ChainVerifier(checkpoints, start);
	} catch {
		throw new BundleError("the bundle header has a malformed start");
	}
	if (!checkpoints.some((c) => c.size === start.seq)) verifier.report("bad_signature", start.seq, "no checkpoint in the bundle vouches for where it starts");
	return verifier;
}
function checkCheckpoint(checkpoint, number) {
	if (typeof checkpoint?.size !== "number" || typeof checkpoint.root !== "string" || typeof checkpoint.note !== "string") throw new BundleError(`line ${number}: a checkpoint needs size, root and note`);
	return checkpoint;
}
function checkRow(row, number) {
	const entry = row?.entry;
	if (!entry || typeof entry !== "object" || typeof entry.seq !== "number" || typeof row.prevHash !== "string" || typeof row.entryHash !== "string") throw new BundleError(`line ${number}: a row needs entry, prevHash and entryHash`);
	return {
		seq: entry.seq,
		entry,
		prevHash: row.prevHash,
		entryHash: row.entryHash
	};
}
// src/audit/standalone-verifier.ts
/**
* The standalone audit verifier: `node rampart-audit-verify.mjs BUNDLE [--key KEY] [--checkpoint FILE]…`.
* Built into one file with no dependencies but Node itself (npm run verifier), so an auditor can
* check an exported bundle on their own machine, without the server, its database or its code.
* Exit status 0: intact; 1: damage found; 2: the bundle or the arguments could not be read.
*/
var USAGE = `usage: node rampart-audit-verify.mjs BUNDLE.jsonl [--key VERIFIER_KEY] [--checkpoint FILE]... [--json]

  BUNDLE.jsonl       what \`rampart audit export\` wrote
  --key KEY          the verifier key you were given (as \`rampart audit key\` prints it);
                     without it the bundle's own key is used, which proves less
  --checkpoint FILE  checkpoints you kept from the server (its checkpoint file); the log must
                     still give each one. Repeat for more files.
  --json             print the result as JSON`;
async function main(argv, out = process.stdout) {
	const say = (text) => out.write(`${text}\n`);
	let bundlePath;
	let key;
	let json = false;
	const keptFiles = [];
	for (let i = 0; i < argv.length; i++) {
		const arg = argv[i];
		if (arg === "--key") key = argv[++i];
		else if (arg === "--checkpoint") keptFiles.push(argv[++i] ?? "");
		else if (arg === "--json") json = true;
		else if (arg === "--help" || arg === "-h") {
			say(USAGE);
			return 0;
		} else if (!arg.startsWith("--") && bundlePath === void 0) bundlePath = arg;
		else {
			say(USAGE);
			return 2;
		}
	}
	if (!bundlePath || key !== void 0 && !validKey(key)) {
		say(key !== void 0 && !validKey(key) ? "error: --key is not a verifier key" : USAGE);
		return 2;
	}
	try {
		const kept = [];
		for (const file of keptFiles) for (const note of splitNotes(fs.readFileSync(file, "utf8"))) {
			if (!key) {
				say("error: checking kept checkpoints needs the verifier key you were given: --key");
				return 2;
			}
			try {
				const signed = parseCheckpoint(openNote(note, key));
				kept.push({
					size: signed.size,
					root: signed.rootHash.toString("hex"),
					note
				});
			} catch (error) {
				if (!(error instanceof NoteError)) throw error;
				kept.push({
					size: 0,
					root: "",
					note
				});
			}
		}
		const result = await verifyBundle(readline.createInterface({
			input: fs.createReadStream(bundlePath, "utf8"),
			crlfDelay: Infinity
		}), {
			...key ? { verifierKey: key } : {},
			kept
		});
		const ok = result.problems.length === 0 && result.signedUpTo > 0;
		if (json) say(JSON.stringify({
			ok,
			...result
		}, null, 2));
		else {
			if (!key) say(`note: checked against the bundle's own verifier key; pass --key with the key you were given to know the checkpoints are the server's`);
			if (result.problems.length === 0 && result.signedUpTo === 0) say(`NOT VERIFIED: the chain of ${result.entries} entries holds together, but no checkpoint signed by the key covers any of it`);
			else if (result.problems.length === 0) {
				const tail = result.entries - result.signedUpTo;
				say(`OK: ${result.header.origin}: the log is intact up to entry ${result.entries} (tree head ${result.rootHash}); ${result.checkpoints} checkpoint(s) hold, signed up to entry ${result.signedUpTo}${tail > 0 ? `; the ${tail} entries after it are chained but not yet signed` : ""}`);
			} else {
				const [first, ...rest] = result.problems;
				say(`BROKEN${first.seq === null ? "" : ` at entry ${first.seq}`}: ${first.kind.replace("_", " ")}: ${first.detail}`);
				for (const p of rest) say(`  also${p.seq === null ? "" : ` at entry ${p.seq}`}: ${p.kind.replace("_", " ")}: ${p.detail}`);
			}
		}
		return ok ? 0 : 1;
	} catch (error) {
		if (error instanceof BundleError || error.code === "ENOENT") {
			say(`error: ${error.message}`);
			return 2;
		}
		throw error;
	}
}
function validKey(key) {
	try {
		parseVerifierKey(key);
		return true;
	} catch {
		return false;
	}
}
// scripts/verifier-entry.ts
process.exitCode = await main(process.argv.slice(2));
export {};
