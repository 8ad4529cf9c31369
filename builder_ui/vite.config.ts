/// <reference types="vitest/config" />
import { defineConfig } from "vite";
import react from "@vitejs/plugin-react";

// The dev server proxies the API to a running `jimu serve` (default port 8000).
export default defineConfig({
  plugins: [react()],
  server: {
    proxy: { "/api": process.env.JIMU_API ?? "http://127.0.0.1:8000" },
  },
  build: {
    outDir: "dist",
    chunkSizeWarningLimit: 1000,
    rolldownOptions: {
      output: {
        // Libraries change less often than the app: their own long-cached chunks. Pages are
        // split by the lazy routes in App.tsx; what only a lazy page uses stays with it.
        codeSplitting: {
          groups: [
            { name: "react", test: /node_modules[\\/](react|react-dom|scheduler|react-router)[\\/]/, priority: 30 },
            { name: "vendor", test: /node_modules[\\/](@tanstack|i18next|react-i18next|dayjs)[\\/]/, priority: 10 },
          ],
        },
      },
    },
  },
  test: {
    include: ["src/**/*.test.{ts,tsx}"],
    setupFiles: ["test-support/fieldTypes.setup.ts"],
    environment: "node",
  },
});
