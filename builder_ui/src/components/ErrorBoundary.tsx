/** Keeps a rendering error from blanking the whole app: shows it with a way back. */
import { Button, Result } from "antd";
import { Component, type ReactNode } from "react";
import i18n from "../i18n";

interface State {
  error: Error | null;
}

export default class ErrorBoundary extends Component<{ children: ReactNode; resetKey?: string }, State> {
  state: State = { error: null };

  static getDerivedStateFromError(error: Error): State {
    return { error };
  }

  componentDidUpdate(previous: { resetKey?: string }) {
    // Navigating elsewhere clears the error.
    if (this.state.error && previous.resetKey !== this.props.resetKey) this.setState({ error: null });
  }

  render() {
    if (!this.state.error) return this.props.children;
    return (
      <Result
        status="error"
        title={i18n.t("errors.generic")}
        subTitle={this.state.error.message}
        extra={<Button onClick={() => window.location.assign("/")}>{i18n.t("nav.apps")}</Button>}
      />
    );
  }
}
