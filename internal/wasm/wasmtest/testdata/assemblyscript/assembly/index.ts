// asplugin: a Proxy-Wasm HTTP filter built with AssemblyScript and the
// @solo-io/proxy-runtime SDK (which declares ABI 0.2.0), for the wasmext
// dry-run fixtures.
//
// Its root context is registered under the root id "asplugin": the host's
// plugin_root_id property (Istio's pluginName) must be that name, or the SDK
// aborts in proxy_on_context_create.
//
// The plugin configuration is empty or a JSON object
// {"header": "x-name", "value": "v"} with string values. proxy_on_configure
// refuses anything else (invalid JSON, an unknown key, a header without a
// value), logging "asplugin: invalid plugin configuration: <why>" at error
// level and returning false. onRequestHeaders adds the configured header.
export * from "@solo-io/proxy-runtime/proxy";
import {
  RootContext, Context, registerRootContext, FilterHeadersStatusValues,
  stream_context, log, LogLevelValues,
} from "@solo-io/proxy-runtime";
import { get_buffer_bytes, BufferTypeValues } from "@solo-io/proxy-runtime/runtime";

// ConfigParser checks a flat JSON object whose values are strings; it keeps
// "header" and "value" and refuses other keys. err is "" while all is well.
class ConfigParser {
  s: string;
  i: i32 = 0;
  err: string = "";
  header: string = "";
  value: string = "";

  constructor(s: string) {
    this.s = s;
  }

  fail(why: string): bool {
    if (this.err == "") {
      this.err = why + " at offset " + this.i.toString();
    }
    return false;
  }

  skipSpace(): void {
    while (this.i < this.s.length) {
      const c = this.s.charCodeAt(this.i);
      if (c != 0x20 && c != 0x09 && c != 0x0a && c != 0x0d) {
        return;
      }
      this.i++;
    }
  }

  // expect consumes the character c after optional white space.
  expect(c: i32, what: string): bool {
    this.skipSpace();
    if (this.i >= this.s.length || this.s.charCodeAt(this.i) != c) {
      return this.fail("expected " + what);
    }
    this.i++;
    return true;
  }

  // str reads a JSON string; escapes are kept as written.
  str(): string {
    if (!this.expect(0x22, "a string")) {
      return "";
    }
    const start = this.i;
    while (this.i < this.s.length) {
      const c = this.s.charCodeAt(this.i);
      if (c == 0x22) {
        const out = this.s.substring(start, this.i);
        this.i++;
        return out;
      }
      if (c < 0x20) {
        this.fail("control character in a string");
        return "";
      }
      this.i += c == 0x5c ? 2 : 1;
    }
    this.fail("unterminated string");
    return "";
  }

  member(): bool {
    const key = this.str();
    if (this.err != "" || !this.expect(0x3a, "':'")) {
      return false;
    }
    this.skipSpace();
    if (key != "header" && key != "value") {
      return this.fail("unknown key \"" + key + "\"");
    }
    const v = this.str();
    if (this.err != "") {
      this.err = "the value of \"" + key + "\" must be a string (" + this.err + ")";
      return false;
    }
    if (key == "header") {
      this.header = v;
    } else {
      this.value = v;
    }
    return true;
  }

  parse(): bool {
    this.skipSpace();
    if (this.i >= this.s.length) {
      return true; // empty: no header to add
    }
    if (!this.expect(0x7b, "'{'")) {
      return false;
    }
    this.skipSpace();
    if (this.i < this.s.length && this.s.charCodeAt(this.i) == 0x7d) {
      this.i++;
    } else {
      while (true) {
        if (!this.member()) {
          return false;
        }
        this.skipSpace();
        if (this.i < this.s.length && this.s.charCodeAt(this.i) == 0x2c) {
          this.i++;
          continue;
        }
        if (!this.expect(0x7d, "',' or '}'")) {
          return false;
        }
        break;
      }
    }
    this.skipSpace();
    if (this.i < this.s.length) {
      return this.fail("data after the JSON object");
    }
    if ((this.header == "") != (this.value == "")) {
      return this.fail("\"header\" and \"value\" must be set together");
    }
    return true;
  }
}

class PluginRoot extends RootContext {
  header: string = "";
  value: string = "";

  createContext(context_id: u32): Context {
    return new PluginContext(context_id, this);
  }

  // The SDK's own onConfigure mishandles the size slot of
  // proxy_get_buffer_bytes, so read the configuration with get_buffer_bytes.
  onConfigure(configuration_size: u32): bool {
    let raw = "";
    if (configuration_size > 0) {
      raw = String.UTF8.decode(
        get_buffer_bytes(BufferTypeValues.PluginConfiguration, 0, configuration_size));
    }
    const p = new ConfigParser(raw);
    if (!p.parse()) {
      log(LogLevelValues.error, "asplugin: invalid plugin configuration: " + p.err);
      return false;
    }
    this.header = p.header;
    this.value = p.value;
    log(LogLevelValues.info, "asplugin: configured (header \"" + p.header + "\")");
    return true;
  }
}

class PluginContext extends Context {
  root: PluginRoot;

  constructor(context_id: u32, root: PluginRoot) {
    super(context_id, root);
    this.root = root;
  }

  onRequestHeaders(a: u32, end_of_stream: bool): FilterHeadersStatusValues {
    if (this.root.header != "") {
      stream_context.headers.request.add(this.root.header, this.root.value);
    }
    return FilterHeadersStatusValues.Continue;
  }
}

registerRootContext((context_id: u32): RootContext => {
  return new PluginRoot(context_id);
}, "asplugin");
